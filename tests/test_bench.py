"""The `make bench` machinery (vmrec.bench): fresh-process measurement, tables, section registry.
No timing is asserted here; the benchmarks themselves run with `make bench`."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import pytest

import vmrec.bench as bench

ROOT = Path(__file__).resolve().parents[1]
ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}  # tests.test_bench


def sleepy(n: int) -> dict:
    """A measurable target: allocate ~n MB and return a JSON-able value."""
    block = bytearray(n * 2**20)
    return {"n": n, "len": len(block)}


def test_measure_runs_in_a_fresh_process_and_reports_memory():
    m = bench.measure("tests.test_bench:sleepy", {"n": 200}, env=ENV)
    assert m.result == {"n": 200, "len": 200 * 2**20}
    assert m.seconds >= 0 and m.cpu_seconds >= 0
    assert m.peak_rss_mb > 200  # the allocation shows in the child's peak RSS


def test_measure_reports_a_failing_target():
    with pytest.raises(RuntimeError, match="failed"):
        bench.measure("tests.test_bench:no_such_function", {}, env=ENV)


def test_markdown_table():
    md = bench.markdown_table([{"route": "a", "s": 1.234, "n": 12345}, {"route": "b", "s": 2.0, "n": 1}])
    assert md.splitlines() == ["| route | s | n |", "|---|---|---|", "| a | 1.23 | 12,345 |",
                              "| b | 2.00 | 1 |"]


def test_registered_section_writes_json_and_markdown(tmp_path, monkeypatch, capsys):
    mod = types.ModuleType("vmrec.bench.demo")
    mod.TITLE = "demo section"
    mod.run = lambda ctx: bench.BenchResult(rows=[{"what": "x", "median s": 0.5}], notes=["a note"])
    monkeypatch.setitem(sys.modules, "vmrec.bench.demo", mod)
    monkeypatch.setattr(bench, "SECTIONS", [*bench.SECTIONS, "demo"])
    ctx = bench.BenchContext(scale="tiny", repeats=1, out_dir=tmp_path)
    bench.run_section("demo", ctx)
    data = json.loads((tmp_path / "demo.json").read_text())
    assert data["rows"] == [{"what": "x", "median s": 0.5}] and data["scale"] == "tiny"
    md = (tmp_path / "demo.md").read_text()
    assert md.startswith("# demo section") and "| x | 0.50 |" in md and "- a note" in md
    assert "| x | 0.50 |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown benchmark section"):
        bench.run_section("nope", ctx)


def test_cli_rejects_unknown_sections():
    from vmrec.bench.__main__ import main

    with pytest.raises(SystemExit):
        main(["--only", "nope"])


def test_train_section_batches():
    """The train section measures every model at 65,536 (and 4,096 where affordable), and lightgcn_h64
    also at its own full-size sweep batch."""
    from vmrec.bench.train import batch_sizes

    assert batch_sizes("edge_mlp", "full", "cpu") == [4096, 65536]
    assert batch_sizes("gnn_h64", "full", "cpu") == [65536]
    assert batch_sizes("lightgcn_h64", "full", "cpu") == [65536, 262144]
    assert batch_sizes("lightgcn_h64", "tiny", "cpu") == [4096, 65536]


def test_generate_section_times_both_worlds(tmp_path):
    """The generate section writes each world's files in a worker and reports the platform world's time
    against the simple world's (tiny scale here; the stated target is at full scale)."""
    from vmrec.bench import generate

    res = generate.run(bench.BenchContext(scale="tiny", repeats=1, out_dir=tmp_path, root=tmp_path))
    rows = {r["world"]: r for r in res.rows}
    assert set(rows) == {"simple", "platform"} and rows["simple"]["vs simple"] == 1.0
    assert all(r["median s"] > 0 and r["files MB"] > 1 for r in rows.values())
    assert any("indicative only" in n for n in res.notes)
    assert any("target platform within" in n for n in res.notes)

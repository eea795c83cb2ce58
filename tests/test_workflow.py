"""The workflow behaves as the README promises: it builds end to end on the tiny config, a second run does
nothing, and a change reruns exactly the steps it affects (config params, code, raw seed).

All tests share one tiny build (fixture `tiny_workdir` in conftest.py); dry runs (-n) are cheap.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import pytest
import yaml
from snakerun import NOTHING_TO_DO, ROOT, job_blocks, jobs_of

pytestmark = pytest.mark.workflow

UPSTREAM = {"synthesize", "ingest"}


def _forced(wf, *args: str) -> dict[str, int]:
    """Jobs of a forced dry run (the reference for 'this and everything downstream')."""
    return wf.dry_run(*args)


def test_end_to_end_builds_every_target(tiny_workdir):
    res = tiny_workdir.results
    tables = sorted(p.name for p in (res / "tables").glob("*.parquet"))
    assert len(tables) == 7, f"expected the 7 ingested tables in {res / 'tables'}, found {tables}"
    assert (res / "features" / "edges.parquet").is_file()
    # every job of the run left its log and its benchmark
    logs = {p.stem for p in (res / "logs").rglob("*.log")}
    benches = {p.stem for p in (res / "benchmarks").rglob("*.tsv")}
    for rule in ("synthesize", "ingest", "features"):
        assert rule in logs, f"no log of rule {rule} under {res / 'logs'}: {sorted(logs)}"
        assert rule in benches, f"no benchmark of rule {rule} under {res / 'benchmarks'}: {sorted(benches)}"


def test_second_run_does_nothing(tiny_workdir):
    proc = tiny_workdir.run("-j2")
    out = proc.stdout + proc.stderr
    assert NOTHING_TO_DO in out, f"second run was not a no-op:\n{out[-3000:]}"


def test_every_rule_declares_log_benchmark_and_resources(tiny_workdir):
    proc = tiny_workdir.run("-n", "--forceall")
    blocks = job_blocks(proc.stdout + proc.stderr)
    assert {"synthesize", "ingest", "features"} <= set(blocks), sorted(blocks)
    missing = {}
    for rule, block in blocks.items():
        if rule == "all":
            continue
        lacks = [f for f in ("log:", "benchmark:", "mem_mb=", "runtime=") if f not in block]
        if lacks:
            missing[rule] = lacks
    assert not missing, f"rules without log/benchmark/resources: {missing}"


def test_snakemake_lint_is_clean(tiny_workdir):
    """`make lint` runs `snakemake --lint`; it exits non-zero on any finding."""
    proc = tiny_workdir.run("--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations" in out, f"snakemake --lint findings:\n{out[-4000:]}"


def test_label_threshold_reruns_features_and_downstream_only(tiny_workdir):
    wf = tiny_workdir
    changed = wf.dry_run(overrides={"labels": {"complete_ratio": 0.8}})
    assert "features" in changed, f"changing labels.complete_ratio did not rerun features: {changed}"
    assert not UPSTREAM & set(changed), f"changing a label threshold reran upstream steps: {changed}"
    downstream = _forced(wf, "--forcerun", "features")
    assert changed == downstream, f"label change reruns {changed}; features and downstream are {downstream}"


def test_synthetic_seed_reruns_everything(tiny_workdir):
    wf = tiny_workdir
    changed = wf.dry_run(overrides={"synthetic": {"seed": 7}})
    everything = _forced(wf, "--forcerun", "synthesize")
    assert "ingest" in changed and "features" in changed, changed
    assert changed == everything, f"seed change reruns {changed}; what derives from the data is {everything}"


def _touch_later(path: Path) -> tuple[str, tuple[float, float]]:
    """Append a comment to a source file (mtime moves forward); return what restores it."""
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\nEDITED_BY_TEST = True\n", encoding="utf-8")
    now = time.time() + 2
    os.utime(path, (now, now))
    return text, (st.st_atime, st.st_mtime)


def _restore(path: Path, saved: tuple[str, tuple[float, float]]) -> None:
    path.write_text(saved[0], encoding="utf-8")
    os.utime(path, saved[1])


def _importers(repo: Path, module: str) -> set[str]:
    """Rules whose scripts import vmrec module `module` (dotted), directly or through other vmrec modules,
    in any function: found by the standard library's modulefinder over the scripts' bytecode, with only
    the repo's src/ on its path (independent of vmrec.workflow_deps, which the rule files use)."""
    from modulefinder import ModuleFinder

    importers = set()
    for rule, script in _rule_scripts().items():
        finder = ModuleFinder(path=[str(repo / "src")])
        finder.run_script(str((repo / "rules" / script).resolve()))
        if module in finder.modules:
            importers.add(rule)
    return importers


@functools.cache
def _rule_scripts() -> dict[str, str]:
    """{rule: its script, relative to rules/} of the workflow's rules (parsed by Snakemake's API)."""
    from test_envs import _rules

    return {r.name: r.script for r in _rules({"scale": "tiny"}) if r.script}


# One module per kind: the config (imported through vmrec.config by some scripts only), one stage's
# library, a value-model module, the report's.
EDITED_MODULES = ["config.py", "labels.py", "value_model/scoring.py", "htmlreport.py"]


@pytest.mark.parametrize("rel", EDITED_MODULES)
def test_editing_a_module_reruns_the_rules_that_import_it(tiny_workdir, rel):
    """Editing a vmrec module reruns exactly the rules whose scripts import it, and what follows them."""
    wf = tiny_workdir
    module = wf.repo / "src" / "vmrec" / rel
    if not module.exists():
        pytest.skip(f"vmrec/{rel} not in the workflow yet")
    name = "vmrec." + rel.removesuffix(".py").replace("/", ".")
    importers = _importers(wf.repo, name) & set(wf.dry_run("--forceall"))
    assert importers, f"no rule of the DAG imports {name}"
    expected = _forced(wf, "--forcerun", *importers)
    saved = _touch_later(module)
    try:
        changed = wf.dry_run()
    finally:
        _restore(module, saved)
    assert changed == expected, (f"editing vmrec/{rel} reruns {changed}; the rules that import it "
                                 f"({sorted(importers)}) and what follows are {expected}")
    if rel == "labels.py":  # imported by features only
        assert "features" in changed and not UPSTREAM & set(changed), changed
    assert wf.dry_run() == {}, "restoring the module did not make the workflow up to date again"


def test_editing_a_script_reruns_its_rule(tiny_workdir):
    wf = tiny_workdir
    script = wf.repo / "scripts" / "ingest.py"
    saved = _touch_later(script)
    try:
        proc = wf.run("-n")
    finally:
        _restore(script, saved)
    out = proc.stdout + proc.stderr
    changed = jobs_of(out)
    assert "ingest" in changed, f"editing scripts/ingest.py did not rerun ingest: {changed}"
    assert "synthesize" not in changed, changed
    assert "Code has changed" in out or "code" in job_blocks(out)["ingest"].lower(), job_blocks(out)["ingest"]


def test_recovery_reruns_per_planted_case(tiny_workdir):
    """The recovery study is one job per planted w*: adding a planted w* adds its job and the gather,
    editing one reruns that case only, and a setting of the main estimate (the pool size) reruns
    estimate_weights but not the study."""
    wf = tiny_workdir
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    planted = config["value_model"]["recovery"]["planted"]
    extra = {"y_complete": 1.0, "y_long": 0.0, "y_rewatch": 0.0, "y_neg": -1.0}
    gather = _forced(wf, "--forcerun", "recovery")  # the gather and what shows its figure
    assert "recovery" in gather and "recovery_case" not in gather, gather
    added = wf.dry_run(overrides={"value_model": {"recovery": {"planted": [*planted, extra]}}})
    assert added == {"recovery_case": 1, **gather}, added
    assert f"case={len(planted)}" in wf.runs[-1], wf.runs[-1][-2000:]
    edited = wf.dry_run(overrides={"value_model": {"recovery": {"planted": [*planted[:-1], extra]}}})
    assert edited == {"recovery_case": 1, **gather}, edited
    assert f"case={len(planted) - 1}" in wf.runs[-1], wf.runs[-1][-2000:]
    pools = wf.dry_run(overrides={"value_model": {"pool_size": 60}})
    assert "estimate_weights" in pools and not {"recovery_case", "recovery"} & set(pools), pools

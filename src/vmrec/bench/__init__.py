"""Benchmarks of vmrec: `make bench` = `python -m vmrec.bench [--only ingest] [--scale full] [--repeats 3]`.

Each section times one stage and writes `bench/<section>.json` (every measurement) and
`bench/<section>.md` (a markdown table, also printed).

Adding a section (e.g. `train`):
  1. create `src/vmrec/bench/train.py` with
         TITLE = "train: ..."                       # heading of bench/train.md
         def run(ctx: BenchContext) -> BenchResult: ...
     Do the timed work in fresh processes with `measure(...)` (wall time of the work itself, and the
     peak RSS of that process), `ctx.repeats` times, and summarise with `summarize(...)`.
  2. append "train" to SECTIONS below.
That is all: `--only train` and `make bench` pick it up.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTIONS: list[str] = ["generate", "ingest", "value_model", "train"]
"""Registered sections, in the order `make bench` runs them (module vmrec.bench.<name> each)."""


@dataclass
class BenchContext:
    """What a section gets: the scale and repeats asked for, and where to write."""

    scale: str = "full"
    repeats: int = 3
    out_dir: Path = Path("bench")
    root: Path = Path(".")  # repository root (data/ lives under it)


@dataclass
class BenchResult:
    """What a section returns: table rows (same keys, in column order), notes, raw measurements."""

    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measurement:
    seconds: float  # wall time of the measured call inside the worker (no interpreter start/imports)
    peak_rss_mb: float  # peak resident memory of the whole worker process
    result: Any = None  # whatever the measured function returned (JSON-able)
    cpu_seconds: float = float("nan")  # user + system CPU time of the call (all threads)


def measure(target: str, kwargs: dict[str, Any] | None = None, env: dict[str, str] | None = None,
            timeout: float | None = None) -> Measurement:
    """Run `module:function(**kwargs)` in a fresh Python process; return its time and peak RSS.

    The function must be importable and its return value JSON-serialisable."""
    cmd = [sys.executable, "-m", "vmrec.bench", "--worker", target, json.dumps(kwargs or {})]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    t0 = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"{target} took longer than {timeout} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{target} failed (exit {proc.returncode}) after {time.monotonic() - t0:.1f} s:\n"
                           f"{err[-3000:]}")
    line = [ln for ln in out.splitlines() if ln.startswith("{")][-1]
    rec = json.loads(line)
    return Measurement(rec["seconds"], rec["peak_rss_mb"], rec.get("result"),
                       rec.get("cpu_seconds", float("nan")))


def _worker(target: str, kwargs_json: str) -> None:
    """Child side of `measure`: call the target, print one JSON line with time and peak RSS."""
    import resource

    module, func = target.split(":")
    fn = getattr(importlib.import_module(module), func)
    kwargs = json.loads(kwargs_json)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = fn(**kwargs)
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": r1.ru_maxrss / 1024,  # KiB
                      "result": result}), flush=True)


def summarize(samples: list[Measurement]) -> dict[str, float]:
    """Median and spread of repeated measurements."""
    secs = [m.seconds for m in samples]
    return {
        "median_s": statistics.median(secs),
        "median_cpu_s": statistics.median(m.cpu_seconds for m in samples),
        "min_s": min(secs),
        "max_s": max(secs),
        "peak_rss_mb": max(m.peak_rss_mb for m in samples),
        "repeats": len(samples),
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A GitHub markdown table of rows (keys of the first row are the columns)."""
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def machine_info() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "platform": platform.platform()}
    try:
        import psutil

        info["mem_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except (ImportError, AttributeError):
        pass
    return info


def run_section(name: str, ctx: BenchContext) -> BenchResult:
    """Run one registered section and write bench/<name>.json and bench/<name>.md."""
    from vmrec.io import write_json, write_text

    if name not in SECTIONS:
        raise ValueError(f"unknown benchmark section {name!r}; registered: {SECTIONS}")
    mod = importlib.import_module(f"vmrec.bench.{name}")
    t0 = time.monotonic()
    res: BenchResult = mod.run(ctx)
    title = getattr(mod, "TITLE", name)
    md = f"# {title}\n\n" + markdown_table(res.rows)
    if res.notes:
        md += "\n" + "\n".join(f"- {n}" for n in res.notes) + "\n"
    meta = {"section": name, "scale": ctx.scale, "repeats": ctx.repeats, "machine": machine_info(),
            "elapsed_s": round(time.monotonic() - t0, 1),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
    md += f"\n_{meta['date']}, scale={ctx.scale}, repeats={ctx.repeats}, {meta['machine']}_\n"
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    write_json({**meta, "rows": res.rows, "notes": res.notes, "raw": res.raw}, ctx.out_dir / f"{name}.json")
    write_text(md, ctx.out_dir / f"{name}.md")
    print(md, flush=True)
    return res

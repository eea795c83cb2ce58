"""Markdown table of wall time and peak memory per rule from a run's Snakemake benchmark files.

    python scripts/report_perf_table.py results/<dataset>/benchmarks [> table.md]

Each benchmarks/*.tsv (one per job, from the rules' `benchmark:`) holds s (wall seconds), max_rss (MB)
and cpu_time; jobs of one rule (wildcards: sweep points, models) are summed for time and maxed for memory.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd


def perf_table(bench_dir: str | Path) -> pd.DataFrame:
    """One row per rule: jobs, wall time (s, summed over its jobs), max job time, peak RSS (MB), CPU s."""
    bench_dir = Path(bench_dir)
    files = sorted(bench_dir.rglob("*.tsv"))
    if not files:
        raise FileNotFoundError(f"no benchmark files (*.tsv) under {bench_dir}; run the pipeline first")
    rows = []
    for f in files:
        b = pd.read_csv(f, sep="\t")
        for col in ("s", "max_rss"):
            if col not in b.columns:
                raise ValueError(f"{f}: expected a Snakemake benchmark with column {col!r}, "
                                 f"found {list(b.columns)}")
        rel = f.relative_to(bench_dir).with_suffix("")
        rule = re.split(r"[_/]", str(rel))[0] if "/" in str(rel) else rel.name
        rows.append({"rule": rule, "job": str(rel), "s": float(b["s"].iloc[-1]),
                     "max_rss_mb": float(pd.to_numeric(b["max_rss"], errors="coerce").iloc[-1]),
                     "cpu_s": float(pd.to_numeric(b.get("cpu_time", pd.Series([float("nan")])),
                                                  errors="coerce").iloc[-1])})
    jobs = pd.DataFrame(rows)
    return (jobs.groupby("rule", sort=False)
            .agg(jobs=("job", "count"), wall_s=("s", "sum"), max_job_s=("s", "max"),
                 peak_rss_mb=("max_rss_mb", "max"), cpu_s=("cpu_s", "sum"))
            .sort_values("wall_s", ascending=False).reset_index())


def to_markdown(table: pd.DataFrame) -> str:
    head = "| rule | jobs | wall time (s, all jobs) | longest job (s) | peak memory (MB) | CPU time (s) |"
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.rule} | {r.jobs} | {r.wall_s:.1f} | {r.max_job_s:.1f} | {r.peak_rss_mb:.0f} | "
                     f"{r.cpu_s:.1f} |")
    lines.append(f"| **total** | {table['jobs'].sum()} | {table['wall_s'].sum():.1f} | | "
                 f"{table['peak_rss_mb'].max():.0f} | {table['cpu_s'].sum():.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python scripts/report_perf_table.py results/<dataset>/benchmarks")
    sys.stdout.write(to_markdown(perf_table(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])

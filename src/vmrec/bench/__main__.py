"""`python -m vmrec.bench [--only ingest,...] [--scale full] [--repeats 3] [--out bench]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vmrec.bench import SECTIONS, BenchContext, _worker, run_section


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:  # child process of vmrec.bench.measure
        _worker(argv[1], argv[2])
        return 0
    p = argparse.ArgumentParser(prog="python -m vmrec.bench", description=__doc__)
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections to run (registered: {','.join(SECTIONS)})")
    p.add_argument("--scale", default="full", choices=["tiny", "small", "full"],
                   help="synthetic data scale (default: full)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are reported")
    p.add_argument("--out", type=Path, default=Path("bench"), help="output folder (default: bench/)")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {unknown}; registered: {SECTIONS}")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    ctx = BenchContext(scale=args.scale, repeats=args.repeats, out_dir=args.out, root=Path.cwd())
    for name in only:
        run_section(name, ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())

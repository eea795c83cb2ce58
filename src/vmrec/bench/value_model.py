"""Benchmark section `value_model`: time of one embedding-matching estimate of w on the planted pools.

One estimate = the default search (restarts x evals_per_restart + polish), the identification diagnostics
and the bootstrap, on the synthetic truth pools of ctx.scale (sessions subsampled to max_sessions), each
run in a fresh process with one torch thread. Rows for several max_sessions show what subsampling costs
in angle error against the planted w* (Plackett-Luce on the same sessions for reference).
Target (2 cores): the full-scale estimate at the default max_sessions under 2 minutes.
"""

from __future__ import annotations

import time
from pathlib import Path

from vmrec.bench import BenchContext, BenchResult, measure, summarize

TITLE = "value_model: one embedding-matching estimate of the value weights"
TARGET_SECONDS = 120.0


def one_estimate(truth_dir: str, max_sessions: int, seed: int = 0) -> dict[str, float]:
    """Estimate w on the planted pools with the default config; return time and angle errors."""
    import json

    import numpy as np
    import pyarrow.parquet as pq
    import torch

    from vmrec.config import validate_config
    from vmrec.contracts import HEADS, TRUTH_JSON, TRUTH_POOLS
    from vmrec.value_model.estimate import angle_deg, estimate_weights
    from vmrec.value_model.pipeline import estimate_kwargs
    from vmrec.value_model.plackett_luce import fit_plackett_luce
    from vmrec.value_model.simulator import pools_from_long, subsample_sessions

    torch.set_num_threads(1)
    vm = validate_config({})["value_model"]
    truth = json.loads((Path(truth_dir) / TRUTH_JSON).read_text(encoding="utf-8"))
    w_star = np.array([truth["value_weights"][h] for h in HEADS])
    pools = subsample_sessions(
        pools_from_long(pq.read_table(Path(truth_dir) / TRUTH_POOLS).to_pandas()), max_sessions, seed
    )
    t0 = time.perf_counter()
    est = estimate_weights(pools, seed=seed, progress=False, **estimate_kwargs(vm, seed, "cpu"))
    seconds = time.perf_counter() - t0
    pl = fit_plackett_luce(pools)
    return {
        "estimate_s": seconds,
        "angle_deg": angle_deg(est.w, w_star),
        "pl_angle_deg": angle_deg(pl.w, w_star),
        "n_sessions": pools.n_sessions,
        "evaluations": est.evaluations,
    }


def run(ctx: BenchContext) -> BenchResult:
    from vmrec.bench.ingest import raw_dir_for

    truth_dir = raw_dir_for(ctx).parents[1] / "truth"
    rows, raw = [], {}
    for n in (1000, 5000, 20000):
        samples = [
            measure("vmrec.bench.value_model:one_estimate", {"truth_dir": str(truth_dir), "max_sessions": n})
            for _ in range(ctx.repeats)
        ]
        st = summarize(samples)
        res = samples[0].result
        raw[n] = {"stats": st, "results": [s.result for s in samples]}
        rows.append(
            {
                "scale": ctx.scale,
                "max_sessions": n,
                "sessions": res["n_sessions"],
                "median_s": round(st["median_s"], 1),
                "angle_deg": round(res["angle_deg"], 2),
                "pl_angle_deg": round(res["pl_angle_deg"], 2),
                "peak_rss_mb": round(st["peak_rss_mb"]),
                "meets_target": st["median_s"] < TARGET_SECONDS,
            }
        )
    notes = [
        f"target: one estimate at the default max_sessions (5000) under {TARGET_SECONDS:.0f} s on 2 cores",
        "angle_deg: embedding matching vs planted w*; pl_angle_deg: Plackett-Luce on the same sessions",
    ]
    return BenchResult(rows=rows, notes=notes, raw=raw)

"""Benchmark section `value_model`: time of one embedding-matching estimate of w on the planted pools.

One estimate = the default search (restarts x evals_per_restart + polish), the identification diagnostics
and the bootstrap, on the synthetic truth pools of ctx.scale (sessions subsampled to max_sessions), each
run in a fresh process with one torch thread. Rows for several max_sessions (the default one included)
show what subsampling costs in angle error against the planted w* (Plackett-Luce on the same sessions
for reference) and split the time into the search and the bootstrap.
Target (2 cores): the full-scale estimate at the default max_sessions under 2 minutes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

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
    from vmrec.value_model.simulator import pools_from_long, subsample_long

    torch.set_num_threads(1)
    vm = validate_config({})["value_model"]
    truth = json.loads((Path(truth_dir) / TRUTH_JSON).read_text(encoding="utf-8"))
    w_star = np.array([truth["value_weights"][h] for h in HEADS])
    long = pq.read_table(Path(truth_dir) / TRUTH_POOLS).to_pandas()
    pools = pools_from_long(subsample_long(long, max_sessions, seed))
    kw = estimate_kwargs(vm, "cpu")
    t0 = time.perf_counter()
    estimate_weights(pools, seed=seed, progress=False, **{**kw, "bootstrap": 0})
    search_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = estimate_weights(pools, seed=seed, progress=False, **kw)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    pl = fit_plackett_luce(pools)
    pl_s = time.perf_counter() - t0
    return {
        "estimate_s": seconds,
        "search_s": search_s,
        "pl_s": pl_s,
        "angle_deg": angle_deg(est.w, w_star),
        "pl_angle_deg": angle_deg(pl.w, w_star),
        "n_sessions": pools.n_sessions,
        "evaluations": est.evaluations,
    }


def run(ctx: BenchContext) -> BenchResult:
    from vmrec.bench.ingest import raw_dir_for

    truth_dir = raw_dir_for(ctx).parents[1] / "truth"
    from vmrec.config import validate_config

    default_n = int(validate_config({})["value_model"]["max_sessions"])
    rows, raw = [], {}
    for n in sorted({2500, default_n, 4 * default_n}):
        samples = [
            measure("vmrec.bench.value_model:one_estimate", {"truth_dir": str(truth_dir), "max_sessions": n})
            for _ in range(ctx.repeats)
        ]
        st = summarize(samples)
        res = samples[0].result
        st["median_s"] = float(np.median([s.result["estimate_s"] for s in samples]))  # the estimate alone
        raw[n] = {"stats": st, "results": [s.result for s in samples]}
        rows.append(
            {
                "scale": ctx.scale,
                "max_sessions": n,
                "sessions": res["n_sessions"],
                "median_s": round(st["median_s"], 1),
                "search_s": round(res["search_s"], 1),
                "plackett_luce_s": round(res["pl_s"], 1),
                "angle_deg": round(res["angle_deg"], 2),
                "pl_angle_deg": round(res["pl_angle_deg"], 2),
                "peak_rss_mb": round(st["peak_rss_mb"]),
                "meets_target": st["median_s"] < TARGET_SECONDS,
            }
        )
    notes = [
        f"target: one estimate at max_sessions {default_n} (default) under {TARGET_SECONDS:.0f} s, 2 cores",
        "median_s: one estimate (search + diagnostics + bootstrap); search_s: the same without the bootstrap",
        "angle_deg: embedding matching vs planted w*; pl_angle_deg: Plackett-Luce on the same sessions",
    ]
    return BenchResult(rows=rows, notes=notes, raw=raw)

"""Benchmark section `value_model`: time of one estimate of w by each method, on the planted truth.

Embedding matching: the default search (restarts x evals_per_restart + polish), the identification
diagnostics and the bootstrap, on the synthetic truth pools of ctx.scale (sessions subsampled to
max_sessions). Pool-marginal Plackett-Luce (the default method): the default fit and its session bootstrap
on the planted logged lists with the true heads and sampled alternatives, pools unknown (the scoring of the
lists and alternatives is timed apart, as `inputs_s`). Each run in a fresh process with one torch thread.
Rows for several max_sessions (the default one included) show what subsampling costs in angle error
against the planted w* (Plackett-Luce on the same planted pools for reference) and split the time into
the search and the bootstrap.
Target (2 cores): the full-scale estimate at the default max_sessions under 2 minutes, each method.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vmrec.bench import BenchContext, BenchResult, measure, summarize

TITLE = "value_model: one estimate of the value weights, per method"
TARGET_SECONDS = 120.0


def one_estimate(truth_dir: str, max_sessions: int, seed: int = 0) -> dict[str, float]:
    """Estimate w on the planted pools with the default config; return time and angle errors."""
    import pyarrow.parquet as pq
    import torch

    from vmrec.config import validate_config
    from vmrec.contracts import TRUTH_POOLS
    from vmrec.synthetic.truth import planted_weights
    from vmrec.value_model.estimate import angle_deg, estimate_weights
    from vmrec.value_model.pipeline import estimate_kwargs
    from vmrec.value_model.plackett_luce import fit_plackett_luce
    from vmrec.value_model.simulator import pools_from_long, subsample_long

    torch.set_num_threads(1)
    vm = validate_config({})["value_model"]
    w_star = planted_weights(truth_dir)
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


def one_marginal_estimate(truth_dir: str, raw_dir: str, max_sessions: int, seed: int = 0) -> dict[str, float]:
    """The pool-marginal Plackett-Luce with the default config on the planted logged lists (true heads,
    pools unknown): time of the inputs, of the fit alone and of the fit with its bootstrap; angle to w*."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    import torch

    from vmrec.config import validate_config
    from vmrec.contracts import TRUTH_POOLS
    from vmrec.synthetic.truth import planted_weights
    from vmrec.value_model.estimate import angle_deg
    from vmrec.value_model.inputs import planted_scorer
    from vmrec.value_model.marginal_pl import fit_marginal_pl, session_choice_data
    from vmrec.value_model.pipeline import marginal_kwargs
    from vmrec.value_model.scoring import blocked_from_pairs

    torch.set_num_threads(1)
    vm = validate_config({})["value_model"]
    mpl = vm["marginal_pl"]
    w_star = planted_weights(truth_dir)
    t0 = time.perf_counter()
    cols = ["session_id", "user_id", "video_id", "shown", "position"]
    shown = pq.read_table(Path(truth_dir) / TRUTH_POOLS, columns=cols).to_pandas()
    shown = shown[shown["shown"]].drop(columns="shown")
    shown["position"] = shown["position"].astype(np.int64)
    ts = pcsv.read_csv(Path(raw_dir) / "big_matrix.csv",
                       convert_options=pcsv.ConvertOptions(include_columns=["timestamp"])).to_pandas()
    views = shown.groupby("video_id").size()
    started, score = planted_scorer(truth_dir, shown, ts.assign(csv_row=np.arange(len(ts))))
    ids = np.unique(started["session_id"])
    if len(ids) > max_sessions:
        ids = np.sort(np.random.default_rng(seed).choice(ids, max_sessions, replace=False))
    sess = shown[shown["session_id"].isin(ids)]
    pair = pcsv.ConvertOptions(include_columns=["user_id", "video_id"])
    blocked = blocked_from_pairs(pcsv.read_csv(Path(raw_dir) / "small_matrix.csv", convert_options=pair)
                                 .to_pandas())
    data = session_choice_data(sess, views, score, n_alternatives=mpl["alternatives"],
                               pool_size=mpl["pool_size"], seed=seed, blocked=blocked)
    inputs_s = time.perf_counter() - t0
    kw = marginal_kwargs(vm)
    t0 = time.perf_counter()
    fit_marginal_pl(data, seed=seed, **{**kw, "bootstrap": 0})
    search_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = fit_marginal_pl(data, seed=seed, **kw)
    seconds = time.perf_counter() - t0
    return {"estimate_s": seconds, "search_s": search_s, "inputs_s": inputs_s,
            "angle_deg": angle_deg(est.w, w_star), "n_sessions": data.n_sessions}


def _measure_rows(ctx: BenchContext, method: str, target: str, kwargs: dict, sessions: list[int],
                  raw: dict) -> list[dict]:
    """One row per session count: `target` run ctx.repeats times in fresh processes, median of its
    `estimate_s` (the estimate alone) and its other results of the first run."""
    rows = []
    for n in sessions:
        samples = [measure(target, {**kwargs, "max_sessions": n}) for _ in range(ctx.repeats)]
        st = summarize(samples)
        res = samples[0].result
        st["median_s"] = float(np.median([s.result["estimate_s"] for s in samples]))
        raw[f"{method} {n}"] = {"stats": st, "results": [s.result for s in samples]}
        rows.append({
            "method": method, "scale": ctx.scale, "max_sessions": n, "sessions": res["n_sessions"],
            "median_s": round(st["median_s"], 1), "search_s": round(res["search_s"], 1),
            "inputs_s": round(res["inputs_s"], 1) if "inputs_s" in res else "",
            "plackett_luce_s": round(res["pl_s"], 1) if "pl_s" in res else "",
            "angle_deg": round(res["angle_deg"], 2),
            "pl_angle_deg": round(res["pl_angle_deg"], 2) if "pl_angle_deg" in res else "",
            "peak_rss_mb": round(st["peak_rss_mb"]), "meets_target": st["median_s"] < TARGET_SECONDS,
        })
    return rows


def run(ctx: BenchContext) -> BenchResult:
    from vmrec.bench.ingest import raw_dir_for
    from vmrec.config import validate_config

    raw_dir = raw_dir_for(ctx)
    truth_dir = str(raw_dir.parents[1] / "truth")
    default_n = int(validate_config({})["value_model"]["max_sessions"])
    raw: dict = {}
    rows = _measure_rows(ctx, "embedding matching", "vmrec.bench.value_model:one_estimate",
                         {"truth_dir": truth_dir}, sorted({2500, default_n, 4 * default_n}), raw)
    rows += _measure_rows(ctx, "pool-marginal Plackett-Luce",
                          "vmrec.bench.value_model:one_marginal_estimate",
                          {"truth_dir": truth_dir, "raw_dir": str(raw_dir)},
                          sorted({default_n, 4 * default_n}), raw)
    notes = [
        f"target: one estimate at max_sessions {default_n} (default) under {TARGET_SECONDS:.0f} s, 2 cores",
        "pool-marginal Plackett-Luce: planted logged lists, true heads, pools unknown; inputs_s = reading "
        "and scoring the lists and alternatives (not in median_s)",
        "median_s: one estimate (search + diagnostics + bootstrap); search_s: the same without the bootstrap",
        "angle_deg: the method's estimate vs planted w*; pl_angle_deg: Plackett-Luce on the planted pools",
    ]
    return BenchResult(rows=rows, notes=notes, raw=raw)

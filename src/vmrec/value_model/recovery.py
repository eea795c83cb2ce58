"""Proof on planted truth: re-simulate logged lists under planted w* and see how well each estimator
recovers it (angle error, ranking agreement, interval coverage); and how the estimate moves when the
simulator's pools change (pool size, popularity tilt)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from tqdm import tqdm

from vmrec.contracts import HEADS
from vmrec.value_model.estimate import angle_deg, estimate_weights, refit, unit
from vmrec.value_model.plackett_luce import fit_plackett_luce
from vmrec.value_model.simulator import Pools, plant_lists, size_buckets, subsample_sessions

log = logging.getLogger("vmrec")


def ranking_agreement(
    pools: Pools,
    w_hat: np.ndarray,
    w_star: np.ndarray,
    top: int = 10,
    max_sessions: int = 2000,
    chunk: int = 256,
    max_pairs: int = 1 << 22,
) -> tuple[float, float]:
    """Mean over sessions of Kendall's tau (tau-a over candidate pairs) between the pool rankings that
    w_hat and w* induce, and the mean overlap of their top-`top` sets (fraction of `top`).

    Sessions are grouped by pool size as the simulator groups them (`size_buckets`), and each chunk is cut
    to its own widest pool: the pools are padded to the widest of all (tiny scale: 316 slots for a median
    of 50), and the pairwise comparison is quadratic in the width. A chunk holds at most `chunk` sessions
    and `max_pairs` (session, pair) cells, so memory stays bounded (~32 MB per array) whatever the widest
    pool."""
    p = pools if pools.n_sessions <= max_sessions else pools.take(np.arange(max_sessions))
    wa, wb = np.asarray(w_hat, float), np.asarray(w_star, float)
    taus, overlaps = [], []
    for bucket in size_buckets(p.valid.sum(1)):
        width = int(p.valid[bucket].any(0).sum())
        step = max(1, min(chunk, max_pairs // max(1, width * (width - 1) // 2)))
        for s in range(0, len(bucket), step):
            rows = bucket[s : s + step]
            cols = p.valid[rows].any(0)  # slots some pool of the chunk uses
            valid = p.valid[rows][:, cols]
            P = p.P[rows][:, cols].astype(np.float64)
            a, b = P @ wa, P @ wb
            i, j = np.triu_indices(valid.shape[1], 1)
            agree = np.sign((a[:, i] - a[:, j]) * (b[:, i] - b[:, j]))  # +1 concordant, -1 discordant, 0 tie
            pair = valid[:, i] & valid[:, j]
            n_pairs = pair.sum(1)
            ok = n_pairs > 0
            taus.append(np.where(pair, agree, 0.0).sum(1)[ok] / n_pairs[ok])
            k = np.minimum(top, valid.sum(1))
            ra = np.argsort(np.argsort(-np.where(valid, a, -np.inf), 1), 1) < k[:, None]
            rb = np.argsort(np.argsort(-np.where(valid, b, -np.inf), 1), 1) < k[:, None]
            overlaps.append((ra & rb).sum(1)[k > 0] / k[k > 0])
    return float(np.concatenate(taus).mean()), float(np.concatenate(overlaps).mean())


def coverage(intervals: np.ndarray | None, w_star: np.ndarray) -> float:
    """Fraction of heads whose 95% interval holds the planted unit weight (NaN without intervals)."""
    if intervals is None:
        return float("nan")
    u = unit(w_star)
    return float(np.mean((intervals[:, 0] <= u) & (u <= intervals[:, 1])))


def recovery_study(
    pools: Pools,
    planted: list[dict[str, float]],
    noise_levels: list[float],
    *,
    estimate_kwargs: dict,
    max_sessions: int,
    seed: int,
    case_ids: list[int] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """For each planted w* x logging noise level: re-simulate the lists from `pools`, estimate w with
    embedding matching and Plackett-Luce, and score the estimates against w*. One row per
    (case, noise, method). `case_ids` (default 0, 1, ...) number the planted w*: a case's seeds follow
    from its number, so one case studied alone gives the rows it gets in the whole study."""
    rows = []
    base = subsample_sessions(pools, max_sessions, seed)
    ids = list(range(len(planted))) if case_ids is None else list(case_ids)
    if len(ids) != len(planted):
        raise ValueError(f"recovery: {len(planted)} planted w* but {len(ids)} case ids")
    for ci, wd in zip(ids, planted, strict=True):
        w_star = np.array([wd[h] for h in HEADS], dtype=np.float64)
        for ni, noise in enumerate(noise_levels):
            run_seed = seed + 1000 * ci + 17 * ni
            data = plant_lists(base, w_star, noise, run_seed)
            true_scale = float(np.linalg.norm(w_star) / noise)
            t0 = time.perf_counter()
            em = estimate_weights(data, seed=run_seed, progress=progress, **estimate_kwargs)
            t1 = time.perf_counter()
            pl = fit_plackett_luce(data)
            seconds = {"embedding": t1 - t0, "plackett_luce": time.perf_counter() - t1}
            for method, w, scale, iv in (
                ("embedding", em.w, em.scale, em.intervals),
                ("plackett_luce", pl.w, pl.scale, pl.intervals),
            ):
                tau, top10 = ranking_agreement(data, w, w_star)
                rows.append(
                    {
                        "case": ci,
                        "noise_scale": noise,
                        "method": method,
                        **{f"w_star_{h}": float(v) for h, v in zip(HEADS, unit(w_star), strict=True)},
                        **{f"w_hat_{h}": float(v) for h, v in zip(HEADS, w, strict=True)},
                        "angle_deg": angle_deg(w, w_star),
                        "kendall_tau": tau,
                        "top10_overlap": top10,
                        "coverage": coverage(iv, w_star),
                        "scale_hat": scale,
                        "scale_true": true_scale,
                        "n_sessions": data.n_sessions,
                        "seconds": seconds[method],
                        "weakly_identified": em.diagnostics["weakly_identified"]
                        if method == "embedding"
                        else "",
                    }
                )
                log.info(
                    "recovery case %d noise %.3g %s: angle %.2f deg, tau %.3f, top10 %.3f",
                    ci,
                    noise,
                    method,
                    rows[-1]["angle_deg"],
                    tau,
                    top10,
                )
    table = pd.DataFrame(rows)
    log_summary(table)
    return table


def log_summary(table: pd.DataFrame) -> None:
    """One log line per method: median and worst angle to w*, interval coverage, time per run."""
    for method, grp in table.groupby("method"):
        log.info(
            "recovery %s: angle median %.2f / max %.2f deg, coverage of w* %.2f, %.1f s per run",
            method,
            grp["angle_deg"].median(),
            grp["angle_deg"].max(),
            grp["coverage"].mean(),
            grp["seconds"].mean(),
        )


def sensitivity_study(
    make_pools: Callable[[float, bool], Pools | None],
    *,
    base_tilt: bool,
    w_base: np.ndarray,
    scale_base: float,
    w_star: np.ndarray | None,
    estimate_kwargs: dict,
    seed: int,
    max_evals: int = 150,
    progress: bool = True,
) -> pd.DataFrame:
    """Re-estimate w with the simulator's pools at x0.5 and x2 the pool size and with the popularity tilt
    on and off; `make_pools(factor, tilt)` returns the pools (None where the variant cannot be built).
    Each variant is a local search started at the baseline estimate (w_base, scale_base); reports how far
    the estimate moves from the baseline (and from w* when known)."""
    variants = [(0.5, base_tilt), (2.0, base_tilt), (1.0, not base_tilt), (0.5, not base_tilt)]
    kw = {k: estimate_kwargs[k] for k in ("loss", "embedding", "device") if k in estimate_kwargs}
    rows = []
    for factor, tilt in tqdm(variants, desc="value model: sensitivity", disable=not progress):
        pools = make_pools(factor, tilt)
        row: dict = {"pool_factor": factor, "popularity_tilt": tilt}
        if pools is None:
            row["note"] = (
                "not available: the candidate sets are fixed (planted pools cannot grow)"
                if factor > 1
                else "not available: fixed planted pools kept whole are the baseline, whatever the tilt"
            )
            rows.append(row)
            continue
        w, scale, loss = refit(pools, w_base * scale_base, seed=seed, max_evals=max_evals, **kw)
        row.update(
            {
                "n_sessions": pools.n_sessions,
                "mean_pool_size": float(pools.valid.sum(1).mean()),
                **{f"w_hat_{h}": float(v) for h, v in zip(HEADS, w, strict=True)},
                "scale_hat": scale,
                "loss": loss,
                "angle_to_baseline_deg": angle_deg(w, w_base),
                "angle_to_truth_deg": angle_deg(w, w_star) if w_star is not None else float("nan"),
                "note": "",
            }
        )
        log.info(
            "sensitivity pool x%.1f tilt %s: angle to baseline %.2f deg",
            factor,
            tilt,
            row["angle_to_baseline_deg"],
        )
        rows.append(row)
    return pd.DataFrame(rows)


def replant_long(long: pd.DataFrame, w_star: np.ndarray, noise_scale: float, seed: int) -> pd.DataFrame:
    """The planted pools (long table: session_id, video_id, shown, PROB_COLUMNS, ...) with each session's list
    re-drawn under w*: the top L_s of its pool by w* . p + noise_scale * Gumbel (L_s: the logged length);
    `shown` and `position` replaced."""
    from vmrec.contracts import PROB_COLUMNS

    rng = np.random.default_rng(seed)
    score = long[list(PROB_COLUMNS)].to_numpy(np.float64) @ w_star + noise_scale * rng.gumbel(size=len(long))
    sid = long["session_id"].to_numpy()
    order = np.lexsort((-score, sid))
    out = long.iloc[order].reset_index(drop=True)
    s = out["session_id"].to_numpy()
    _, start, count = np.unique(s, return_index=True, return_counts=True)
    rank = np.arange(len(out)) - np.repeat(start, count)
    length = np.repeat(long.groupby("session_id")["shown"].sum().sort_index().to_numpy(), count)
    out["shown"] = rank < length
    out["position"] = np.where(out["shown"], rank, -1)
    return out


def pools_unknown_recovery(
    long: pd.DataFrame,
    score,
    planted: dict[str, float],
    noise_levels: list[float],
    *,
    case: int,
    seed: int,
    max_sessions: int,
    marginal: dict,
    pools: Pools,
    blocked: dict | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The path a real user takes, on planted truth: every planted session's list re-drawn under w*, then w
    estimated with the pools unknown (pool-marginal Plackett-Luce: the lists, alternatives drawn in proportion
    to the re-drawn log's views, heads from `score`, e.g. the true ones). Rows as `recovery_study`'s, method
    `marginal_pl_pools_unknown`; the ranking agreement is measured on `pools` (planted, true heads)."""
    from vmrec.value_model.marginal_pl import fit_kwargs, fit_marginal_pl, session_choice_data

    w_star = np.array([planted[h] for h in HEADS], dtype=np.float64)
    rows = []
    for ni, noise in enumerate(noise_levels):
        run_seed = seed + 1000 * case + 17 * ni
        lists = replant_long(long, w_star, noise, run_seed)
        lists = lists[lists["shown"]]
        views = lists.groupby("video_id").size()
        ids = np.unique(lists["session_id"])
        if len(ids) > max_sessions:
            ids = np.sort(np.random.default_rng(run_seed).choice(ids, max_sessions, replace=False))
        sess = lists[lists["session_id"].isin(ids)]
        t0 = time.perf_counter()
        data = session_choice_data(sess[["session_id", "user_id", "video_id", "position"]], views, score,
                                   n_alternatives=marginal["alternatives"], pool_size=marginal["pool_size"],
                                   seed=run_seed, blocked=blocked)
        est = fit_marginal_pl(data, seed=run_seed, progress=progress, **fit_kwargs(marginal))
        tau, top10 = ranking_agreement(pools, est.w, w_star)
        rows.append({
            "case": case, "noise_scale": noise, "method": "marginal_pl_pools_unknown",
            **{f"w_star_{h}": float(v) for h, v in zip(HEADS, unit(w_star), strict=True)},
            **{f"w_hat_{h}": float(v) for h, v in zip(HEADS, est.w, strict=True)},
            "angle_deg": angle_deg(est.w, w_star), "kendall_tau": tau, "top10_overlap": top10,
            "coverage": coverage(est.intervals, w_star), "scale_hat": est.scale,
            "scale_true": float(np.linalg.norm(w_star) / noise), "n_sessions": est.n_sessions,
            "seconds": time.perf_counter() - t0,
            "weakly_identified": est.diagnostics["weakly_identified"],
        })
        log.info("recovery case %d noise %.3g pools unknown (pool-marginal PL): angle %.2f deg, tau %.3f",
                 case, noise, rows[-1]["angle_deg"], tau)
    return pd.DataFrame(rows)

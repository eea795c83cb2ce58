"""Off-policy evaluation (synthetic data): each model's heads on the logging policy's own candidate pools.

A model learns from the views the policy chose; the value model and any new ranking need its heads on the
candidates the policy passed over. The synthetic truth holds the pools (TRUTH_POOLS) with the planted
probability of every candidate, so this measures directly, per head, on held-out sessions (first view in
`splits`), for the candidates that were **shown** and those **not shown**:

- `mean_pred`, `mean_true`, `bias` = mean_pred - mean_true with a 95% session-bootstrap interval;
- `ece`: calibration error, the mean over 10 equal-count bins of the predictions of |mean predicted - mean
  true probability|, weighted by the bins' sizes;
- `auc`: the AUC against the planted probabilities as soft labels (every pair of candidates counts with
  weight p_i (1 - p_j): the AUC a model would have on labels drawn from the truth, without the draw's
  noise), `auc_oracle` the same for the truth itself, and `lift` = (auc - 0.5) / (auc_oracle - 0.5).

and the **selection gap** (`where` = GAP): the mean head of the shown minus that of the passed-over
candidates, predicted (`mean_pred`) against true (`mean_true`), and their difference (`bias`, with a 95%
interval over sessions). A value-model estimate reads the policy's choice from this gap: a model can be
unbiased on the passed-over candidates and still compress the gap (a level shift of every prediction).

Each candidate is scored with the context of its session's first shown view (as the value model does);
the truth is the probability at the session's start. Nothing here feeds training.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vmrec.contracts import HEADS, OFFPOLICY_WHERE, PROB_COLUMNS, TRUTH_BIG, TRUTH_POOLS
from vmrec.metrics import bootstrap_counts

log = logging.getLogger("vmrec")

OFFPOLICY_COLUMNS = ("model", "where", "head", "n", "mean_pred", "mean_true", "bias", "bias_lo", "bias_hi",
                     "ece", "auc", "auc_oracle", "lift")
SCORED_COLUMNS = ("session_id", "video_id", "shown", *PROB_COLUMNS, *(f"{c}_true" for c in PROB_COLUMNS))
"""A model's scored held-out pools (metrics/offpolicy/<model>_pools.parquet): what the paired comparison
reads."""
OFFPOLICY_PAIRED_COLUMNS = ("model", "baseline", "where", "head", "abs_bias_model", "abs_bias_baseline",
                            "diff", "ci_low", "ci_high", "n")
WHERE = OFFPOLICY_WHERE[:2]
GAP = OFFPOLICY_WHERE[2]
"""The `where` of the selection-gap rows: mean over the shown minus mean over the passed-over candidates,
predicted against true - what a value-model estimate reads from the heads."""


def soft_auc(p_true: np.ndarray, score: np.ndarray) -> float:
    """AUC of `score` against soft labels `p_true`: sum over pairs i != j of p_i (1 - p_j) [s_i > s_j]
    (ties 1/2), over sum p_i (1 - p_j). Equals the expected AUC on labels drawn from p_true as n grows.

    scikit-learn's weighted ROC AUC of every row once as a positive (weight p) and once as a negative
    (weight 1 - p), with the pairs of a row with itself (a tie, weight p (1 - p)) taken out."""
    from sklearn.metrics import roc_auc_score

    p = np.asarray(p_true, np.float64)
    s = np.asarray(score, np.float64)
    pairs = p.sum() * (1 - p).sum()
    self_pairs = (p * (1 - p)).sum()
    if pairs - self_pairs <= 0:
        return float("nan")
    y = np.r_[np.ones(len(p)), np.zeros(len(p))]
    weighted = roc_auc_score(y, np.r_[s, s], sample_weight=np.r_[p, 1 - p])
    return float((weighted * pairs - 0.5 * self_pairs) / (pairs - self_pairs))


def calibration_bins(p_true: np.ndarray, p_pred: np.ndarray, bins: int = 10,
                     weight: np.ndarray | None = None) -> list[tuple[int, float, float, float]]:
    """Equal-count bins of p_pred: per bin (rows, mean p_pred, mean p_true, total weight), the means
    weighted by `weight` where given (None: plain means, each row weighing 1)."""
    order = np.argsort(p_pred, kind="mergesort")
    parts = [b for b in np.array_split(order, min(bins, len(order))) if len(b)]
    if weight is None:
        return [(len(b), p_pred[b].mean(), p_true[b].mean(), float(len(b))) for b in parts]
    return [(len(b), np.average(p_pred[b], weights=weight[b]), np.average(p_true[b], weights=weight[b]),
             weight[b].sum()) for b in parts]


def calibration_error(p_true: np.ndarray, p_pred: np.ndarray, bins: int = 10,
                      weight: np.ndarray | None = None) -> float:
    """Weight-weighted (default: size-weighted) mean over equal-count bins of p_pred of |mean p_pred - mean
    p_true| (calibration_bins)."""
    return binned_error(calibration_bins(p_true, p_pred, bins, weight))


def binned_error(parts: list[tuple[int, float, float, float]]) -> float:
    """The calibration error of calibration_bins' bins: their weight-weighted mean |mean p_pred - mean
    p_true|."""
    total = sum(w for *_, w in parts)
    return float(sum(w / total * abs(mp - mt) for _, mp, mt, w in parts))


class HeldOutPools(NamedTuple):
    """Planted pools of held-out sessions (long: session_id, user_id, video_id, shown, position,
    PROB_COLUMNS) and their shown views' csv rows (TRUTH_BIG: csv_row, session_id, video_id), which map a
    session's first view to its edge-table context."""

    pools: pd.DataFrame
    views: pd.DataFrame


def held_out_pools(truth_dir: str | Path, edges: pd.DataFrame, splits: list[str], max_sessions: int,
                   seed: int) -> HeldOutPools:
    """The planted pools of at most `max_sessions` sessions whose first shown view is in the edge table
    and in `splits`, with their views (TRUTH_POOLS and TRUTH_BIG, each read once)."""
    from vmrec.value_model.scoring import planted_sessions_in

    truth_dir = Path(truth_dir)
    pools = pq.read_table(truth_dir / TRUTH_POOLS,
                          columns=["session_id", "user_id", "video_id", "shown", "position",
                                   *PROB_COLUMNS]).to_pandas()
    big = pq.read_table(truth_dir / TRUTH_BIG, columns=["csv_row", "session_id", "video_id"]).to_pandas()
    held = planted_sessions_in(pools, big, edges, list(splits))
    if len(held) == 0:
        raise ValueError(f"off-policy evaluation: no planted session starts in splits {list(splits)}")
    if len(held) > max_sessions:
        held = np.sort(np.random.default_rng(seed).choice(held, max_sessions, replace=False))
    return HeldOutPools(pools[pools["session_id"].isin(held)].reset_index(drop=True),
                        big[big["session_id"].isin(held)].reset_index(drop=True))


def score_held_out_pools(held: HeldOutPools, edges: pd.DataFrame, edges_path: str | Path,
                         item_features_path: str | Path, model) -> pd.DataFrame:
    """The held-out pools with the model's heads (PROB_COLUMNS) beside the planted ones (`<col>_true`)."""
    from vmrec.features import ItemFeatureLookup
    from vmrec.value_model.scoring import logged_pool_frames, score_pools

    long, sess = logged_pool_frames(held.pools, held.views, edges)
    lookup = ItemFeatureLookup(pq.read_table(item_features_path).to_pandas())
    scored = score_pools(long[["session_id", "video_id", "shown", "date"]], sess, edges_path, lookup, model)
    truth = held.pools.set_index(["session_id", "video_id"])[list(PROB_COLUMNS)].add_suffix("_true")
    return scored.join(truth, on=["session_id", "video_id"])


def _session_draws(rng: np.random.Generator, n_sessions: int, n_boot: int) -> np.ndarray:
    """(n_boot, n_sessions) session-bootstrap draw counts (metrics.bootstrap_counts, float64)."""
    if n_boot == 0:
        return np.zeros((0, n_sessions))
    return np.vstack(list(bootstrap_counts(rng, n_sessions, n_boot))).astype(np.float64)


def offpolicy_metrics(model: str, scored: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """OFFPOLICY_COLUMNS rows for one model: per head, on shown and on not-shown candidates."""
    rows = []
    rng = np.random.default_rng(seed)
    for where in WHERE:
        part = scored[scored["shown"] == (where == "shown")]
        sid, inv = np.unique(part["session_id"].to_numpy(), return_inverse=True)
        counts = np.bincount(inv, minlength=len(sid)).astype(float)
        draws = _session_draws(rng, len(sid), n_boot)
        n = draws @ counts
        for head, col in zip(HEADS, PROB_COLUMNS, strict=True):
            pred = part[col].to_numpy(np.float64)
            true = part[f"{col}_true"].to_numpy(np.float64)
            boot = draws @ np.bincount(inv, weights=pred - true, minlength=len(sid)) / n
            a, a_or = soft_auc(true, pred), soft_auc(true, true)
            lo, hi = np.percentile(boot, [2.5, 97.5]) if n_boot else (np.nan, np.nan)
            rows.append({"model": model, "where": where, "head": head, "n": len(part),
                         "mean_pred": pred.mean(), "mean_true": true.mean(), "bias": (pred - true).mean(),
                         "bias_lo": lo, "bias_hi": hi, "ece": calibration_error(true, pred),
                         "auc": a, "auc_oracle": a_or, "lift": (a - 0.5) / (a_or - 0.5)})
    rows += _gap_rows(model, scored, n_boot, rng)
    return pd.DataFrame(rows, columns=list(OFFPOLICY_COLUMNS))


def _gap_rows(model: str, scored: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> list[dict]:
    """Selection-gap rows (where = GAP), sessions resampled with all their candidates."""
    sid, inv = np.unique(scored["session_id"].to_numpy(), return_inverse=True)
    shown = scored["shown"].to_numpy(bool)
    ns = np.bincount(inv, weights=shown, minlength=len(sid))
    nn = np.bincount(inv, weights=~shown, minlength=len(sid))
    draws = _session_draws(rng, len(sid), n_boot)
    rows = []
    for head, col in zip(HEADS, PROB_COLUMNS, strict=True):
        gaps = {}
        for kind, c in (("pred", col), ("true", f"{col}_true")):
            x = scored[c].to_numpy(np.float64)
            s_sum = np.bincount(inv, weights=np.where(shown, x, 0.0), minlength=len(sid))
            n_sum = np.bincount(inv, weights=np.where(shown, 0.0, x), minlength=len(sid))
            gaps[kind] = (s_sum.sum() / ns.sum() - n_sum.sum() / nn.sum(),
                          draws @ s_sum / (draws @ ns) - draws @ n_sum / (draws @ nn))
        boot = gaps["pred"][1] - gaps["true"][1]
        lo, hi = np.percentile(boot, [2.5, 97.5]) if n_boot else (np.nan, np.nan)
        rows.append({"model": model, "where": GAP, "head": head, "n": len(scored),
                     "mean_pred": gaps["pred"][0], "mean_true": gaps["true"][0],
                     "bias": gaps["pred"][0] - gaps["true"][0], "bias_lo": lo, "bias_hi": hi,
                     "ece": np.nan, "auc": np.nan, "auc_oracle": np.nan, "lift": np.nan})
    return rows


def paired_offpolicy(scored: dict[str, pd.DataFrame], baseline: str, n_boot: int,
                     seed: int) -> pd.DataFrame:
    """Every model against `baseline` on the same candidates (OFFPOLICY_PAIRED_COLUMNS): per head, on shown
    and passed-over candidates, |bias| of the model minus |bias| of the baseline (negative: the model is
    closer to the truth on average), with a 95% interval from the same session-bootstrap resamples for
    both models."""
    key = ["session_id", "video_id"]
    base = scored[baseline].sort_values(key, kind="stable").reset_index(drop=True)
    rows = []
    for model, frame in scored.items():
        if model == baseline:
            continue
        f = frame.sort_values(key, kind="stable").reset_index(drop=True)
        if not f[key].equals(base[key]):
            raise ValueError(f"off-policy: {model} and {baseline} scored different candidates; rerun "
                             "evaluate_pools for both")
        for wi, where in enumerate(WHERE):
            m = (f["shown"] == (where == "shown")).to_numpy()
            sid, inv = np.unique(f.loc[m, "session_id"].to_numpy(), return_inverse=True)
            counts = np.bincount(inv, minlength=len(sid)).astype(float)
            draws = _session_draws(np.random.default_rng([seed, wi]), len(sid), n_boot)
            n = draws @ counts
            for head, col in zip(HEADS, PROB_COLUMNS, strict=True):
                true = f.loc[m, f"{col}_true"].to_numpy(np.float64)
                err_a = np.bincount(inv, weights=f.loc[m, col].to_numpy(np.float64) - true,
                                    minlength=len(sid))
                err_b = np.bincount(inv, weights=base.loc[m, col].to_numpy(np.float64) - true,
                                    minlength=len(sid))
                boot = np.abs(draws @ err_a / n) - np.abs(draws @ err_b / n)
                a, b = abs(err_a.sum() / counts.sum()), abs(err_b.sum() / counts.sum())
                lo, hi = np.percentile(boot, [2.5, 97.5]) if n_boot else (np.nan, np.nan)
                rows.append({"model": model, "baseline": baseline, "where": where, "head": head,
                             "abs_bias_model": a, "abs_bias_baseline": b, "diff": a - b, "ci_low": lo,
                             "ci_high": hi, "n": int(m.sum())})
    return pd.DataFrame(rows, columns=list(OFFPOLICY_PAIRED_COLUMNS))


def plot_offpolicy(table: pd.DataFrame, path: str | Path) -> None:
    """Bias (mean predicted - mean true probability) per head and model, shown against not-shown
    candidates, with the session-bootstrap intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(HEADS), figsize=(3.2 * len(HEADS), 0.35 * len(models) + 1.8), sharey=True)
    y = np.arange(len(models))
    for ax, head in zip(np.atleast_1d(axes), HEADS, strict=True):
        for k, (where, color) in enumerate(zip(WHERE, ("tab:blue", "tab:red"), strict=True)):
            t = table[(table["head"] == head) & (table["where"] == where)].set_index("model").reindex(models)
            err = np.vstack([t["bias"] - t["bias_lo"], t["bias_hi"] - t["bias"]])
            ax.errorbar(t["bias"], y + (k - 0.5) * 0.25, xerr=err, fmt="o", color=color, label=where, ms=4)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(head)
        ax.set_xlabel("mean predicted - true")
    axes[0].set_yticks(y, models)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9)
    fig.suptitle("Heads on the policy's own pools (held-out sessions): shown and passed-over candidates")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Evaluation of the engagement models: per-head AUC, GAUC, logloss and ECE with bootstrap intervals,
the reference rows (duration baseline, oracle on synthetic data), and the model-report figures."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from vmrec.contracts import HEADS, METRIC_COLUMNS, PROB_COLUMNS, TRUTH_BIG, TRUTH_SMALL  # noqa: E402
from vmrec.metrics import (  # noqa: E402
    SortedScores,
    bootstrap_counts,
    calibration_curve,
    ece,
    ece_batch,
    logloss,
    logloss_batch,
    per_user_auc,
    roc_curve,
)

log = logging.getLogger("vmrec")
METRICS: tuple[str, ...] = ("auc", "gauc", "logloss", "ece")
DURATION_COLUMN = "f_item_log_duration"
# the columns labels_frame reads: ids and the heads (contracts.LABEL_COLUMNS are the heads only)
LABELS_FRAME_COLUMNS: list[str] = ["edge_id", "split", "user_id", *HEADS]


def _ci(samples: np.ndarray | list[float]) -> tuple[float, float]:
    a = np.asarray(samples, dtype=np.float64)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return float("nan"), float("nan")
    return float(np.percentile(a, 2.5)), float(np.percentile(a, 97.5))


def split_metrics(y: np.ndarray, p: np.ndarray, user: np.ndarray, n_boot: int,
                  rng: np.random.Generator) -> list[list[dict]]:
    """Metric rows (metric, value, ci_low, ci_high) of every head of one split: y, p (n, heads).

    Rows are resampled for AUC, logloss and ECE (the same resamples for every head, drawn in batches
    as row-count vectors and scored in one vectorised pass), users for GAUC (unweighted mean of
    per-user AUC over users with both classes)."""
    n, k = y.shape
    ss = [SortedScores(p[:, j]) for j in range(k)]
    point = [{"auc": ss[j].auc(y[:, j]), "logloss": logloss(y[:, j], p[:, j]), "ece": ece(y[:, j], p[:, j])}
             for j in range(k)]
    boots: list[dict[str, list[np.ndarray]]] = [{m: [] for m in point[0]} for _ in range(k)]
    for w in bootstrap_counts(rng, n, n_boot) if n else []:
        for j in range(k):
            boots[j]["auc"].append(ss[j].auc_batch(y[:, j], w))
            boots[j]["logloss"].append(logloss_batch(y[:, j], p[:, j], w))
            boots[j]["ece"].append(ece_batch(y[:, j], p[:, j], w))
    out = []
    for j in range(k):
        rows = []
        for m in ("auc", "logloss", "ece"):
            lo, hi = _ci(np.concatenate(boots[j][m]) if boots[j][m] else [])
            rows.append({"metric": m, "value": point[j][m], "ci_low": lo, "ci_high": hi})
        ua, dropped = per_user_auc(y[:, j], p[:, j], user)
        g_boot = ua[rng.integers(0, len(ua), (n_boot, len(ua)))].mean(1) if len(ua) and n_boot else []
        lo, hi = _ci(g_boot)
        rows.append({"metric": "gauc", "value": float(ua.mean()) if len(ua) else float("nan"),
                     "ci_low": lo, "ci_high": hi})
        rows.append({"metric": "gauc_users", "value": float(len(ua)), "ci_low": np.nan, "ci_high": np.nan})
        rows.append({"metric": "gauc_dropped_users", "value": float(dropped),
                     "ci_low": np.nan, "ci_high": np.nan})
        out.append(rows)
    return out


def evaluate_frame(model: str, frame: pd.DataFrame, splits: list[str], n_boot: int,
                   seed: int) -> pd.DataFrame:
    """Tidy metrics (contracts.METRIC_COLUMNS) of one model. `frame` holds split, user_id, HEADS labels
    and PROB_COLUMNS predictions, one row per edge. Rows are sorted by edge_id first, so the result does
    not depend on the row order of the inputs."""
    need = ["edge_id", "split", "user_id", *HEADS, *PROB_COLUMNS]
    missing = [c for c in need if c not in frame]
    if missing:
        raise ValueError(f"{model}: evaluation frame lacks column(s) {missing}")
    frame = frame.sort_values("edge_id", kind="stable")
    rows = []
    for si, split in enumerate(splits):
        f = frame[frame["split"] == split]
        if f.empty:
            log.warning("%s: no prediction for split %s; skipped", model, split)
            continue
        rng = np.random.default_rng([seed, si])  # same resamples for every model: paired intervals
        per_head = split_metrics(f[list(HEADS)].to_numpy(np.int8), f[list(PROB_COLUMNS)].to_numpy(np.float64),
                                 f["user_id"].to_numpy(), n_boot, rng)
        for h, hrows in zip(HEADS, per_head, strict=True):
            rows += [{"model": model, "split": split, "head": h, **r} for r in hrows]
        log.info("%s %s: AUC %s", model, split,
                 " ".join(f"{r['head']}={r['value']:.3f}" for r in rows if r["split"] == split
                          and r["metric"] == "auc"))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


PAIRED_COLUMNS: tuple[str, ...] = ("model", "baseline", "split", "head", "auc_model", "auc_baseline",
                                    "diff", "ci_low", "ci_high", "n")


def best_non_graph_model(metrics: pd.DataFrame, models: list[str]) -> str:
    """The non-graph model (vmrec.config.is_graph_model) with the highest mean val AUC over the heads."""
    from vmrec.config import is_graph_model

    cand = [m for m in models if not is_graph_model(m)]
    val = metrics[(metrics["metric"] == "auc") & (metrics["split"] == "val") & metrics["model"].isin(cand)]
    if val.empty:
        raise ValueError(f"no val AUC of a non-graph model among {models}")
    return str(val.groupby("model")["value"].mean().idxmax())


def paired_frame(frames: dict[str, pd.DataFrame], baseline: str, splits: list[str], n_boot: int,
                 seed: int) -> pd.DataFrame:
    """Every model of `frames` against `baseline` (PAIRED_COLUMNS): per split and head, the AUC difference
    model - baseline on the same rows with a paired 95% percentile bootstrap interval (rows resampled,
    the same resamples for both models and every head)."""
    rows = []
    base = frames[baseline].sort_values("edge_id", kind="stable")
    for model, frame in frames.items():
        if model == baseline:
            continue
        f = frame.sort_values("edge_id", kind="stable")
        for si, split in enumerate(splits):
            a, b = f[f["split"] == split], base[base["split"] == split]
            if a.empty or not np.array_equal(a["edge_id"].to_numpy(), b["edge_id"].to_numpy()):
                log.warning("%s vs %s: %s rows differ or are missing; skipped", model, baseline, split)
                continue
            ys = [a[h].to_numpy(np.int8) for h in HEADS]
            sa = [SortedScores(a[pc].to_numpy(np.float64)) for pc in PROB_COLUMNS]
            sb = [SortedScores(b[pc].to_numpy(np.float64)) for pc in PROB_COLUMNS]
            boot: list[list[np.ndarray]] = [[] for _ in HEADS]
            # same resamples as evaluate_frame's for this split (seed, split index), chunk by chunk
            for w in bootstrap_counts(np.random.default_rng([seed, si]), len(a), n_boot):
                for k in range(len(HEADS)):
                    boot[k].append(sa[k].auc_batch(ys[k], w) - sb[k].auc_batch(ys[k], w))
            for k, h in enumerate(HEADS):
                auc_a, auc_b = sa[k].auc(ys[k]), sb[k].auc(ys[k])
                lo, hi = _ci(np.concatenate(boot[k]) if boot[k] else [])
                rows.append({"model": model, "baseline": baseline, "split": split, "head": h,
                             "auc_model": auc_a, "auc_baseline": auc_b, "diff": auc_a - auc_b,
                             "ci_low": lo, "ci_high": hi, "n": len(a)})
    return pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))


def labels_frame(edges: pd.DataFrame) -> pd.DataFrame:
    """edge_id, split, user_id and labels of an edge table (what evaluation joins predictions to)."""
    return edges[LABELS_FRAME_COLUMNS].assign(split=lambda d: d["split"].astype(str))


def join_predictions(labels: pd.DataFrame, preds: pd.DataFrame, where: str) -> pd.DataFrame:
    """Join predictions to labels on edge_id; every prediction must match an edge."""
    f = preds.drop(columns=["split"], errors="ignore").merge(labels, on="edge_id", how="inner",
                                                             validate="one_to_one")
    if len(f) != len(preds):
        raise ValueError(f"{where}: {len(preds) - len(f)} prediction row(s) have an edge_id absent from "
                         "the edge table; rerun training on the current features")
    return f


def duration_baseline(edges: pd.DataFrame, n_bins: int = 20, prior: float = 20.0) -> pd.DataFrame:
    """Predictions from video duration only: per-head rate in duration quantile bins fitted on train
    (shrunk towards the train rate), for every non-train edge (PREDICTION_COLUMNS)."""
    col = DURATION_COLUMN if DURATION_COLUMN in edges else next(
        (c for c in edges.columns if c.startswith("f_item_") and "duration" in c), None)
    if col is None:
        raise ValueError(f"edge table: no video-duration feature (expected {DURATION_COLUMN!r})")
    d = edges[col].to_numpy(np.float64)
    train = (edges["split"] == "train").to_numpy()
    cuts = np.unique(np.quantile(d[train], np.linspace(0, 1, n_bins + 1)[1:-1]))
    b = np.searchsorted(cuts, d, side="right")
    nb = len(cuts) + 1
    out = pd.DataFrame({"edge_id": edges["edge_id"].to_numpy(), "split": edges["split"].astype(str)})
    cnt = np.bincount(b[train], minlength=nb)
    for h, pc in zip(HEADS, PROB_COLUMNS, strict=True):
        y = edges[h].to_numpy(np.float64)
        base = y[train].mean()
        rate = (np.bincount(b[train], weights=y[train], minlength=nb) + prior * base) / (cnt + prior)
        out[pc] = rate[b].astype(np.float32)
    return out[~train].reset_index(drop=True)


def oracle_predictions(edges: pd.DataFrame, truth_dir: str | Path, labels_cfg: dict) -> pd.DataFrame | None:
    """True probabilities of every non-train edge from truth/ (synthetic data), or None with a warning
    when the config's label thresholds differ from those the truth refers to."""
    from vmrec.synthetic.truth import read_truth

    truth_dir = Path(truth_dir)
    meta = read_truth(truth_dir)
    th = meta.get("label_thresholds", {})
    diff = {k: (labels_cfg.get(k), th.get(k)) for k in set(th) | set(labels_cfg)
            if not np.isclose(float(labels_cfg.get(k, np.nan)), float(th.get(k, np.nan)))}
    if diff:
        log.warning("oracle skipped: config label thresholds differ from truth.json's "
                    "(key: config, truth): %s", diff)
        return None
    e = edges.loc[edges["split"] != "train", ["edge_id", "split", "source", "csv_row", "user_id", "video_id"]]
    big = pd.read_parquet(truth_dir / TRUTH_BIG, columns=["csv_row", *PROB_COLUMNS])
    small = pd.read_parquet(truth_dir / TRUTH_SMALL, columns=["user_id", "video_id", *PROB_COLUMNS])
    eb = e[e["source"] == "big"].merge(big, on="csv_row", how="left")
    es = e[e["source"] == "small"].merge(small, on=["user_id", "video_id"], how="left")
    out = pd.concat([eb, es], ignore_index=True)
    miss = out[PROB_COLUMNS[0]].isna()
    if miss.any():
        r = out.loc[miss].iloc[0]
        raise ValueError(f"{truth_dir}: no true probability for {int(miss.sum())} edge(s), e.g. edge_id "
                         f"{r['edge_id']} ({r['source']} csv_row {r['csv_row']})")
    out["split"] = out["split"].astype(str)
    return out[["edge_id", "split", *PROB_COLUMNS]].sort_values("edge_id").reset_index(drop=True)


# --- figures ---------------------------------------------------------------------------------------------
def plot_auc(metrics: pd.DataFrame, path: str | Path) -> None:
    """AUC per head and model with 95% intervals, one panel per split."""
    m = metrics[metrics["metric"] == "auc"]
    splits = list(dict.fromkeys(m["split"]))
    models = list(dict.fromkeys(m["model"]))
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4), squeeze=False, sharey=True)
    width = 0.8 / max(len(models), 1)
    for ax, split in zip(axes[0], splits, strict=True):
        for j, model in enumerate(models):
            d = m[(m["split"] == split) & (m["model"] == model)].set_index("head").reindex(list(HEADS))
            x = np.arange(len(HEADS)) + (j - (len(models) - 1) / 2) * width
            err = np.vstack([d["value"] - d["ci_low"], d["ci_high"] - d["value"]]).clip(min=0)
            ax.errorbar(x, d["value"], yerr=np.nan_to_num(err), fmt="o", capsize=3, label=model)
        ax.set_xticks(np.arange(len(HEADS)), list(HEADS))
        ax.set_title(f"split: {split}")
        ax.set_xlabel("head")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("AUC (95% bootstrap interval)")
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_curves_per_head(frames: dict[str, pd.DataFrame], split: str, path: str | Path, curve,
                          xlabel: str, ylabel: str, legend_loc: str, **style) -> None:
    """One panel per head with `curve(y, p) -> (x, y, ...)` drawn per model, and the diagonal."""
    fig, axes = plt.subplots(1, len(HEADS), figsize=(4.2 * len(HEADS), 4), squeeze=False)
    for ax, h, pc in zip(axes[0], HEADS, PROB_COLUMNS, strict=True):
        for model, f in frames.items():
            f = f[f["split"] == split]
            if f.empty:
                continue
            xs, ys = curve(f[h].to_numpy(), f[pc].to_numpy())[:2]
            ax.plot(xs, ys, label=model, **style)
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_title(f"{h} ({split})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_roc(frames: dict[str, pd.DataFrame], split: str, path: str | Path) -> None:
    """ROC curve per head, one line per model, on one split."""
    _plot_curves_per_head(frames, split, path, roc_curve, "false positive rate", "true positive rate",
                          "lower right", lw=1.2)


def plot_calibration(frames: dict[str, pd.DataFrame], split: str, path: str | Path) -> None:
    """Reliability diagram per head (observed rate vs mean predicted probability), one line per model."""
    _plot_curves_per_head(frames, split, path, calibration_curve, "mean predicted probability",
                          "observed rate", "upper left", marker="o", ms=3, lw=1)


def plot_curves(curves: dict[str, pd.DataFrame], path: str | Path) -> None:
    """Training curves: train / val loss and val AUC per head against the epoch, one line per model."""
    panels = ["train_loss", "val_loss", *(f"val_auc_{h}" for h in HEADS)]
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    for ax, col in zip(axes.ravel(), panels, strict=True):
        for model, c in curves.items():
            ax.plot(c["epoch"], c[col], "o-", ms=3, label=model)
        ax.set_title(col)
        ax.set_xlabel("epoch")
        ax.set_ylabel("weighted BCE" if "loss" in col else "AUC")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

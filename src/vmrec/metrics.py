"""Binary classification metrics with optional row weights (for a fast bootstrap).

AUC uses the Mann-Whitney statistic with ties counted half, computed from one sort of the scores; a
bootstrap resample is a vector of integer row weights, so a resample costs O(n) instead of a re-sort.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7


class SortedScores:
    """Scores sorted once and grouped into tie blocks, reused by every weighted AUC."""

    def __init__(self, score: np.ndarray) -> None:
        score = np.asarray(score, dtype=np.float64)
        self.order = np.argsort(score, kind="stable")
        s = score[self.order]
        # block id of each sorted position: equal scores share a block (ties count half)
        new_block = np.empty(len(s), dtype=bool)
        if len(s):
            new_block[0] = True
            new_block[1:] = s[1:] != s[:-1]
        self.block = np.cumsum(new_block) - 1
        self.n_blocks = int(self.block[-1]) + 1 if len(s) else 0

    def auc(self, y: np.ndarray, w: np.ndarray | None = None) -> float:
        """Weighted AUC of labels y (0/1, original row order); nan if one class is absent."""
        y = np.asarray(y)[self.order].astype(bool)
        w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)[self.order]
        pos = np.bincount(self.block, weights=w * y, minlength=self.n_blocks)
        neg = np.bincount(self.block, weights=w * ~y, minlength=self.n_blocks)
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        neg_below = np.cumsum(neg) - neg
        return float((pos * (neg_below + 0.5 * neg)).sum() / (n_pos * n_neg))


def auc(y: np.ndarray, score: np.ndarray, w: np.ndarray | None = None) -> float:
    """ROC AUC (ties count half); nan when y holds a single class."""
    return SortedScores(score).auc(y, w)


def logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """Mean binary cross-entropy of probabilities p (clipped to [1e-7, 1 - 1e-7])."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    ll = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return float(np.average(ll, weights=w))


def ece(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, n_bins: int = 15) -> float:
    """Expected calibration error: weighted mean |rate - mean p| over equal-width probability bins."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(p)) if w is None else np.asarray(w, dtype=np.float64)
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    tot = np.bincount(b, weights=w, minlength=n_bins)
    if tot.sum() == 0:
        return float("nan")
    sum_p = np.bincount(b, weights=w * p, minlength=n_bins)
    sum_y = np.bincount(b, weights=w * y, minlength=n_bins)
    return float(np.abs(sum_y - sum_p).sum() / tot.sum())


def per_user_auc(y: np.ndarray, score: np.ndarray, user: np.ndarray) -> tuple[np.ndarray, int]:
    """AUC of every user with both classes, and the number of users dropped (a single class)."""
    y = np.asarray(y).astype(bool)
    user = np.asarray(user)
    order = np.lexsort((score, user))  # by user, then score
    u, y_s, s = user[order], y[order], np.asarray(score, dtype=np.float64)[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    ends = np.r_[starts[1:], len(u)]
    aucs = []
    dropped = 0
    for a, b in zip(starts, ends, strict=True):
        yy = y_s[a:b]
        n_pos = yy.sum()
        if n_pos == 0 or n_pos == len(yy):
            dropped += 1
            continue
        ss = s[a:b]
        # average ranks within the user (ties half): scipy-free rank via unique inverse
        _, inv, counts = np.unique(ss, return_inverse=True, return_counts=True)
        first = np.cumsum(counts) - counts
        ranks = first[inv] + (counts[inv] + 1) / 2.0
        aucs.append((ranks[yy].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(yy) - n_pos)))
    return np.asarray(aucs, dtype=np.float64), dropped


def calibration_curve(
    y: np.ndarray, p: np.ndarray, n_bins: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean predicted p, observed rate, count (empty bins removed)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    cnt = np.bincount(b, minlength=n_bins)
    keep = cnt > 0
    mean_p = np.bincount(b, weights=p, minlength=n_bins)[keep] / cnt[keep]
    rate = np.bincount(b, weights=y, minlength=n_bins)[keep] / cnt[keep]
    return mean_p, rate, cnt[keep]


def roc_curve(y: np.ndarray, score: np.ndarray, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at (up to max_points) thresholds, for plotting."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    tp = np.cumsum(y[order])
    fp = np.cumsum(~y[order])
    n_pos, n_neg = max(tp[-1], 1), max(fp[-1], 1)
    idx = np.unique(np.linspace(0, len(y) - 1, min(max_points, len(y))).astype(np.int64))
    return np.r_[0.0, fp[idx] / n_neg], np.r_[0.0, tp[idx] / n_pos]

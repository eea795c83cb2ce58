"""Binary classification metrics with optional row weights (for a fast bootstrap).

AUC uses the Mann-Whitney statistic with ties counted half, computed from one sort of the scores; a
bootstrap resample is a vector of integer row weights (how often each row was drawn), so a resample
costs O(n) instead of a re-sort, and a batch of resamples is one (B, n) array: `bootstrap_counts` draws
them, `SortedScores.auc_batch`, `logloss_batch` and `ece_batch` score all of them in a few numpy calls.
"""

from __future__ import annotations

from collections.abc import Iterator

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
        self.starts = np.flatnonzero(new_block)  # sorted position where each tie block starts

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


    def auc_batch(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """AUC of labels y under each row of the weight matrix w (B, n), original row order -> (B,);
        nan where a resample holds one class only."""
        ys = np.asarray(y)[self.order].astype(bool)
        ws = np.asarray(w, dtype=np.float32)[:, self.order]  # counts: exact in float32 up to 2**24
        pos = ws * ys
        neg = ws - pos
        if self.n_blocks < len(ys):  # ties: sum within tie blocks
            pos = np.add.reduceat(pos, self.starts, axis=1)
            neg = np.add.reduceat(neg, self.starts, axis=1)
        n_pos, n_neg = pos.sum(1, dtype=np.float64), neg.sum(1, dtype=np.float64)
        neg_below = np.cumsum(neg, axis=1) - neg
        num = np.einsum("ij,ij->i", pos, neg_below + 0.5 * neg, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = num / (n_pos * n_neg)
        out[(n_pos == 0) | (n_neg == 0)] = np.nan
        return out


def bootstrap_counts(rng: np.random.Generator, n: int, n_boot: int,
                     max_cells: int = 4_000_000) -> Iterator[np.ndarray]:
    """Bootstrap resamples of n rows as draw counts, in chunks of shape (b, n) with b * n <= max_cells.

    Each resample draws n row indices with replacement (rng.integers) and counts them; the chunks
    together hold n_boot resamples, always drawn in the same order for a given rng state."""
    per = max(1, max_cells // max(n, 1))
    done = 0
    while done < n_boot:
        b = min(per, n_boot - done)
        idx = rng.integers(0, n, (b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float32)
        done += b


def paired_auc_diff(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray,
                    resamples: Iterator[np.ndarray] | list[np.ndarray]) -> tuple[float, np.ndarray]:
    """AUC(a) - AUC(b) on the same rows, and its value under each bootstrap resample (row-count chunks of
    shape (b, n), e.g. from `bootstrap_counts`): both models are scored on the same resampled rows, so the
    interval of the difference is paired (much narrower than two separate intervals when a and b agree).
    -> (point difference, (B,) resampled differences)."""
    sa, sb = SortedScores(score_a), SortedScores(score_b)
    diffs = [sa.auc_batch(y, w) - sb.auc_batch(y, w) for w in resamples]
    return sa.auc(y) - sb.auc(y), (np.concatenate(diffs) if diffs else np.zeros(0))


def logloss_batch(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """logloss under each row of the weight matrix w (B, n) -> (B,)."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    ll = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    return (w @ ll.astype(w.dtype)).astype(np.float64) / w.sum(1, dtype=np.float64)


def ece_batch(y: np.ndarray, p: np.ndarray, w: np.ndarray, n_bins: int = 15) -> np.ndarray:
    """ECE (see `ece`) under each row of the weight matrix w (B, n) -> (B,): rows grouped by bin once,
    per-bin sums of every resample by one reduceat each."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    order = np.argsort(b, kind="stable")
    bs = b[order]
    starts = np.flatnonzero(np.r_[True, bs[1:] != bs[:-1]])
    ws = w[:, order]
    tot = np.add.reduceat(ws, starts, axis=1, dtype=np.float64)
    sum_p = np.add.reduceat(ws * p[order], starts, axis=1, dtype=np.float64)
    sum_y = np.add.reduceat(ws * y[order], starts, axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(sum_y - sum_p).sum(1) / tot.sum(1)


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
    """AUC of every user with both classes (in user-id order), and the number of users dropped (a
    single class). Grouped ranks: one sort by (user, score), average ranks of tied scores within a user,
    rank sums of the positives per user by bincount (no per-user loop)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    _, uidx = np.unique(np.asarray(user), return_inverse=True)
    order = np.lexsort((s, uidx))  # by user, then score
    u, y_s, s = uidx[order], y[order], s[order]
    n = len(u)
    if n == 0:
        return np.zeros(0), 0
    n_users = int(u[-1]) + 1
    new_user = np.r_[True, u[1:] != u[:-1]]
    new_tie = new_user | np.r_[True, s[1:] != s[:-1]]
    tie = np.cumsum(new_tie) - 1
    tie_first = np.flatnonzero(new_tie)
    tie_count = np.diff(np.r_[tie_first, n])
    user_first = np.flatnonzero(new_user)  # position of each user's first row (users are 0..n_users-1)
    rank = (tie_first[tie] - user_first[u]) + (tie_count[tie] + 1) / 2.0  # 1-based, ties averaged
    n_all = np.bincount(u, minlength=n_users).astype(np.float64)
    n_pos = np.bincount(u, weights=y_s, minlength=n_users)
    rank_pos = np.bincount(u, weights=rank * y_s, minlength=n_users)
    keep = (n_pos > 0) & (n_pos < n_all)
    npk, nk = n_pos[keep], n_all[keep]
    aucs = (rank_pos[keep] - npk * (npk + 1) / 2) / (npk * (nk - npk))
    return aucs.astype(np.float64), int((~keep).sum())


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

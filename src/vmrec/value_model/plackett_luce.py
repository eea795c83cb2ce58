"""Reference estimators: Plackett-Luce (rank-ordered logit) MLE with known pools, and uniform weights.

The logging policy ranks a pool by w*.p + Gumbel(noise) and shows the top L, which is exactly
Plackett-Luce with utilities w*.p / noise: P(list) = prod_j exp(u_j) / sum_{i not yet shown} exp(u_i).
The MLE of the free-scale vector beta = w / noise is a concave problem (Newton's method, numpy); its
direction estimates w, its norm the inverse noise scale. Intervals: observed information (Hessian) with
the delta method for the unit vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmrec.contracts import HEADS
from vmrec.value_model.simulator import Pools


@dataclass
class PLEstimate:
    w: np.ndarray  # unit vector, HEADS order
    scale: float  # |beta| = 1 / noise scale in the units of unit w
    loglik: float
    intervals: np.ndarray  # (K, 2) 95% Wald intervals of the unit w
    n_sessions: int


def _ordered(pools: Pools) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pools reordered so the shown list comes first in rank order, then the other candidates."""
    S, M = pools.valid.shape
    Lmax = pools.shown.shape[1]
    is_shown = np.zeros((S, M), dtype=bool)
    rows = np.repeat(np.arange(S), Lmax)
    cols = pools.shown.ravel()
    is_shown[rows[cols >= 0], cols[cols >= 0]] = True
    rest = np.argsort(~(pools.valid & ~is_shown), axis=1, kind="stable")
    # slots 0..Lmax-1: the list (slots past L_s are padding, masked); then every non-shown candidate
    order = np.concatenate([np.where(pools.shown >= 0, pools.shown, 0), rest], axis=1)
    P = np.take_along_axis(pools.P, order[..., None], 1)
    valid = np.take_along_axis(pools.valid & ~is_shown, order, 1)
    valid[:, :Lmax] = pools.shown >= 0
    return P, valid, pools.length


def _chunks(pools: Pools, max_slots: int = 400_000) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The ordered pools in chunks of sessions of similar pool size, each trimmed to its own width."""
    S = pools.n_sessions
    size = pools.valid.sum(1) + pools.length  # width of the ordered layout is at most list + pool
    by_size = np.argsort(size, kind="stable")
    out, start = [], 0
    while start < S:
        stop = start + 1
        while stop < S and (stop - start + 1) * size[by_size[stop]] <= max_slots:
            stop += 1
        idx = np.sort(by_size[start:stop])
        sub = pools.take(idx)
        L = int(sub.length.max())
        n_valid = sub.valid.sum(1)
        sub = Pools(
            P=sub.P[:, : int(n_valid.max())],
            valid=sub.valid[:, : int(n_valid.max())],
            shown=sub.shown[:, :L],
            length=sub.length,
            session_id=sub.session_id,
            video_id=sub.video_id[:, : int(n_valid.max())],
        )
        P, valid, length = _ordered(sub)
        keep = valid.any(0)
        keep[:L] = True
        last = int(np.flatnonzero(keep).max()) + 1
        out.append((P[:, :last].astype(np.float64), valid[:, :last], length))
        start = stop
    return out


def _rcumsum(a: np.ndarray, L: int) -> np.ndarray:
    """Reverse cumulative sums along axis 1 (sum over slots j..end), first L slots."""
    return np.cumsum(a[:, ::-1], axis=1)[:, ::-1][:, :L]


def _nll_grad_hess(beta: np.ndarray, chunks) -> tuple[float, np.ndarray, np.ndarray]:
    """Negative log-likelihood, gradient and Hessian (sum of the choice-set covariances) in beta.

    Stage j of a list chooses its j-th item from the not-yet-shown set (ordered slots j..end), so the
    stage sums are reverse cumulative sums of exp(u) x and exp(u) x x^T."""
    K = len(beta)
    nll, grad, hess = 0.0, np.zeros(K), np.zeros((K, K))
    for P, valid, length in chunks:
        u = np.where(valid, P @ beta, -np.inf)
        u = u - u.max(1, keepdims=True)
        e = np.exp(u)
        L = int(length.max())
        # stage sums = reverse cumulative sums over the list slots + the totals over the other candidates
        el, Pl, er, Pr = e[:, :L], P[:, :L], e[:, L:], P[:, L:]
        S0 = _rcumsum(el, L) + er.sum(1)[:, None]
        S1 = _rcumsum(el[..., None] * Pl, L) + np.einsum("sm,smk->sk", er, Pr)[:, None]
        S2 = _rcumsum(el[..., None, None] * (Pl[..., :, None] * Pl[..., None, :]), L) + np.matmul(
            (er[..., None] * Pr).transpose(0, 2, 1), Pr
        )[:, None]
        stage = np.arange(L)[None, :] < length[:, None]
        mean = S1 / S0[..., None]
        cov = S2 / S0[..., None, None] - mean[..., :, None] * mean[..., None, :]
        nll -= float((u[:, :L] - np.log(S0))[stage].sum())
        grad -= (P[:, :L] - mean)[stage].sum(0)
        hess += cov[stage].sum(0)
    return nll, grad, hess


def fit_plackett_luce(pools: Pools, max_iter: int = 100) -> PLEstimate:
    """Plackett-Luce MLE of w (free scale) from which candidates were shown and in what order
    (Newton's method with backtracking on the concave log-likelihood)."""
    if pools.shown.shape[1] >= pools.valid.shape[1] and (pools.valid.sum(1) <= pools.length).all():
        raise ValueError("Plackett-Luce needs pools larger than the shown lists (some candidate not shown)")
    chunks = _chunks(pools)
    beta = np.zeros(pools.P.shape[2])
    f, g, H = _nll_grad_hess(beta, chunks)
    for _ in range(max_iter):
        step = np.linalg.lstsq(H, g, rcond=None)[0]
        decrement = float(g @ step)  # Newton decrement^2: the predicted decrease is half of it
        if decrement < 1e-10:
            break
        t = 1.0
        while True:
            f_new, g_new, H_new = _nll_grad_hess(beta - t * step, chunks)
            if f_new <= f - 1e-4 * t * decrement:
                break
            t *= 0.5
            if t < 1e-8:  # no decrease along the Newton direction: at the optimum up to rounding
                break
        if t < 1e-8:
            break
        beta, f, g, H = beta - t * step, f_new, g_new, H_new
    norm = float(np.linalg.norm(beta))
    u = beta / norm
    try:
        C = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        C = np.linalg.pinv(H)
    J = (np.eye(len(u)) - np.outer(u, u)) / norm
    se = np.sqrt(np.clip(np.diag(J @ C @ J.T), 0, None))
    return PLEstimate(
        w=u,
        scale=norm,
        loglik=-f,
        intervals=np.stack([u - 1.96 * se, u + 1.96 * se], 1),
        n_sessions=pools.n_sessions,
    )


def uniform_weights() -> np.ndarray:
    """The naive baseline: every head weighted equally (unit vector)."""
    return np.full(len(HEADS), 1.0 / np.sqrt(len(HEADS)))

"""Reference estimators: Plackett-Luce (rank-ordered logit) MLE with known pools, and uniform weights.

The logging policy ranks a pool by w*.p + Gumbel(noise) and shows the top L, which is exactly
Plackett-Luce with utilities w*.p / noise: P(list) = prod_j exp(u_j) / sum_{i not yet shown} exp(u_i).
The MLE of the free-scale vector beta = w / noise is a concave problem (L-BFGS); its direction estimates
w, its norm the inverse noise scale. Intervals: observed information (Hessian) with the delta method
for the unit vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vmrec.contracts import HEADS
from vmrec.value_model.simulator import Pools

_NEG = -1e9


@dataclass
class PLEstimate:
    w: np.ndarray  # unit vector, HEADS order
    scale: float  # |beta| = 1 / noise scale in the units of unit w
    loglik: float
    intervals: np.ndarray  # (K, 2) 95% Wald intervals of the unit w
    n_sessions: int


def _ordered(pools: Pools) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
    return torch.as_tensor(P, dtype=torch.float64), torch.as_tensor(valid), torch.as_tensor(pools.length)


def _nll(beta: torch.Tensor, P: torch.Tensor, valid: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    u = (P @ beta).masked_fill(~valid, _NEG)
    lse = torch.logcumsumexp(u.flip(1), dim=1).flip(1)  # log sum over slots j.. (the not-yet-shown set)
    pos = torch.arange(u.shape[1])[None, :]
    term = torch.where(pos < length[:, None], u - lse, torch.zeros_like(u))
    return -term.sum()


def fit_plackett_luce(pools: Pools, max_iter: int = 200) -> PLEstimate:
    """Plackett-Luce MLE of w (free scale) from which candidates were shown and in what order."""
    if pools.shown.shape[1] >= pools.valid.shape[1] and (pools.valid.sum(1) <= pools.length).all():
        raise ValueError("Plackett-Luce needs pools larger than the shown lists (some candidate not shown)")
    P, valid, length = _ordered(pools)
    beta = torch.zeros(P.shape[2], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [beta],
        lr=1.0,
        max_iter=max_iter,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
    )

    def closure():
        opt.zero_grad()
        f = _nll(beta, P, valid, length)
        f.backward()
        return f

    opt.step(closure)
    b = beta.detach()
    H = torch.autograd.functional.hessian(lambda x: _nll(x, P, valid, length), b).numpy()
    nll = float(_nll(b, P, valid, length))
    bn = b.numpy()
    norm = float(np.linalg.norm(bn))
    u = bn / norm
    try:
        C = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        C = np.linalg.pinv(H)
    J = (np.eye(len(u)) - np.outer(u, u)) / norm
    se = np.sqrt(np.clip(np.diag(J @ C @ J.T), 0, None))
    return PLEstimate(
        w=u,
        scale=norm,
        loglik=-nll,
        intervals=np.stack([u - 1.96 * se, u + 1.96 * se], 1),
        n_sessions=pools.n_sessions,
    )


def uniform_weights() -> np.ndarray:
    """The naive baseline: every head weighted equally (unit vector)."""
    return np.full(len(HEADS), 1.0 / np.sqrt(len(HEADS)))

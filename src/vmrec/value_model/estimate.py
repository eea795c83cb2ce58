"""The embedding-matching estimator of the value-model weights w (the method of this project).

Find w minimising the distance between observed and simulated session embeddings:
  - simulated lists come from `Simulator` with common random numbers (pools and Gumbel draws fixed
    across candidate w), so the loss is a deterministic function of w;
  - the norm of w is free (it is the inverse noise scale; fixing it biases the direction), so the search
    runs on sphere x log-scale: theta = (x in R^K, log r), w = r * x / |x|;
  - loss `moments`: squared Mahalanobis distance of the mean embeddings (whitened by the observed
    across-session covariance); loss `mmd`: MMD^2 with an RBF kernel on whitened embeddings, computed
    with fixed random Fourier features (linear in the number of sessions, exact in expectation);
  - derivative-free multi-start CMA-ES (`restarts` starts from seeded random directions);
  - 95% intervals: bootstrap over sessions (sessions resampled with replacement and the simulation noise
    redrawn per replicate, so the intervals carry the simulation variance too; each replicate is
    re-optimised from the estimate), reported as the estimate +- 1.96 bootstrap standard deviations;
  - identification: rank and condition number of the finite-difference Jacobian of the standardised
    moments w.r.t. the local coordinates (3 tangent directions of the sphere + log-scale) at the optimum.
Reported w is a unit vector (w_complete > 0 is the convention; a negative estimate is reported as found
and flagged, since flipping the sign would change the rankings).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cma
import numpy as np
import torch
from tqdm import tqdm

from vmrec.contracts import HEADS
from vmrec.value_model.embeddings import ListEmbedder
from vmrec.value_model.simulator import Pools, Simulator

log = logging.getLogger("vmrec")

LOSSES = ("moments", "mmd")
Z95 = 1.959964
"""Two-sided 95% normal quantile (bootstrap intervals)."""
WEAK_CONDITION = 30.0
"""Jacobian condition number above which w counts as weakly identified."""
MIN_SESSIONS = 30
"""Fewest sessions an estimate runs on (4 weights and a scale from fewer lists is noise)."""
RANK_TOLERANCE = 0.05
"""Singular values below this fraction of the largest do not count towards the Jacobian rank: the
simulated moments are piecewise constant in w (finite sessions), so finite differences carry noise of a
few percent and a stricter tolerance would call a flat direction identified."""


class EstimationError(ValueError):
    """The estimator cannot run on these inputs (too few sessions, bad settings)."""


def unit(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    n = np.linalg.norm(w)
    if n == 0:
        raise ValueError("weight vector is zero; it has no direction")
    return w / n


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two weight vectors in degrees (scale-free)."""
    return float(np.degrees(np.arccos(np.clip(unit(a) @ unit(b), -1.0, 1.0))))


def theta_to_w(theta: np.ndarray) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    return np.exp(theta[-1]) * unit(theta[:-1])


class EmbeddingLoss:
    """Distance between observed and simulated embeddings (for one candidate w or a batch of them)."""

    def __init__(
        self, obs: torch.Tensor, kind: str = "moments", seed: int = 0, n_features: int = 256
    ) -> None:
        if kind not in LOSSES:
            raise EstimationError(f"value_model.loss must be one of {LOSSES}; found {kind!r}")
        self.kind = kind
        self.mu = obs.mean(0)
        # whiten with the across-session covariance of the observed embeddings (efficient GMM weighting):
        # the heads are strongly correlated, and a diagonal weighting drowns the directions that
        # separate them; eigenvalues are floored at 1e-6 of the largest
        X = (obs - self.mu).double()
        cov = X.T @ X / max(len(X) - 1, 1)
        evals, evecs = torch.linalg.eigh(cov)
        evals = evals.clamp(min=float(evals.max()) * 1e-6 + 1e-12)
        self.whiten = (evecs / evals.sqrt()).float()
        self.obs = obs
        if kind == "mmd":
            g = torch.Generator().manual_seed(seed)
            D = obs.shape[1]
            # bandwidth by the median heuristic on standardised data: E|x - y|^2 = 2 D
            bw = float(np.sqrt(D))
            self.W = (torch.randn(D, n_features, generator=g) / bw).to(obs.device)
            self.b = (torch.rand(n_features, generator=g) * 2 * np.pi).to(obs.device)
        self._obs_stat = self.stat(obs)

    def features(self, E: torch.Tensor) -> torch.Tensor:
        Z = (E - self.mu) @ self.whiten
        if self.kind == "moments":
            return Z
        return torch.cos(Z @ self.W + self.b) * np.sqrt(2.0 / self.W.shape[1])

    def stat(self, E: torch.Tensor) -> torch.Tensor:
        """Mean feature over sessions (axis -2): (S, D) -> (D',), (n, S, D) -> (n, D')."""
        return self.features(E).mean(-2)

    def residual(self, sim: torch.Tensor) -> torch.Tensor:
        return self.stat(sim) - self._obs_stat

    def __call__(self, sim: torch.Tensor) -> float:
        return float((self.residual(sim) ** 2).sum())

    def batch(self, sim: torch.Tensor) -> np.ndarray:
        """(n,) losses of a batch of simulated embeddings (n, S, D)."""
        return (self.residual(sim) ** 2).sum(-1).cpu().numpy().astype(np.float64)


@dataclass
class Estimate:
    """Result of one embedding-matching estimate (w is a unit vector in HEADS order)."""

    w: np.ndarray
    scale: float
    loss: float
    theta: np.ndarray
    n_sessions: int
    evaluations: int
    intervals: np.ndarray | None = None  # (K, 2) 95% bootstrap intervals of the unit w
    scale_interval: tuple[float, float] | None = None
    bootstrap_w: np.ndarray | None = None  # (B, K)
    diagnostics: dict = field(default_factory=dict)
    restarts: list[dict] = field(default_factory=list)

    def weights_dict(self) -> dict[str, float]:
        return {h: float(v) for h, v in zip(HEADS, self.w, strict=True)}


class Objective:
    """theta -> loss on a Simulator (counts evaluations); `batch` scores a CMA-ES population at once."""

    def __init__(self, sim: Simulator, loss: EmbeddingLoss) -> None:
        self.sim, self.loss, self.evaluations = sim, loss, 0

    def __call__(self, theta: np.ndarray) -> float:
        return float(self.batch(np.asarray(theta)[None])[0])

    def batch(self, thetas: np.ndarray, chunk: int = 16) -> np.ndarray:
        """(n,) losses of the rows of thetas, simulated `chunk` candidates at a time."""
        thetas = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
        return self.batch_w(np.stack([theta_to_w(t) for t in thetas]), chunk)

    def batch_w(self, W: np.ndarray, chunk: int = 16) -> np.ndarray:
        """(n,) losses of the weight vectors W (n, K) (free norm)."""
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        self.evaluations += len(W)
        return np.concatenate(
            [self.loss.batch(self.sim.embed_batch(W[i : i + chunk])) for i in range(0, len(W), chunk)]
        )

    def residual(self, w: np.ndarray) -> np.ndarray:
        return self.loss.residual(self.sim.embed_sim(w)).cpu().numpy().astype(np.float64)


def _cma(
    obj: Objective, x0: np.ndarray, sigma0: float, max_evals: int, seed: int, keep_start: bool = True
) -> tuple[np.ndarray, float]:
    """CMA-ES (ask/tell) with the whole population evaluated in one batched simulation. Returns the best
    point seen; `keep_start=False` leaves the start out of that comparison (a bootstrap replicate must
    not fall back to the point estimate just because its short search found nothing better)."""
    K = len(x0) - 1
    opts = {
        "seed": int(seed) + 1,  # cma treats seed 0 as "random"
        "maxfevals": int(max_evals),
        "verbose": -9,
        "bounds": [[-np.inf] * K + [-4.0], [np.inf] * K + [7.0]],
        "tolfun": 1e-9,
        "tolx": 1e-4,
    }
    es = cma.CMAEvolutionStrategy(np.asarray(x0, dtype=np.float64), sigma0, opts)
    best_x = np.asarray(x0, dtype=np.float64)
    best_f = obj(x0) if keep_start else np.inf
    while not es.stop():
        xs = es.ask()
        fs = obj.batch(np.array(xs))
        es.tell(xs, fs.tolist())
        i = int(np.argmin(fs))
        if fs[i] < best_f:
            best_x, best_f = np.asarray(xs[i], dtype=np.float64), float(fs[i])
    return best_x, best_f


def refit(
    pools: Pools,
    w_start: np.ndarray,
    *,
    loss: str = "moments",
    embedding: str = "heads",
    seed: int = 0,
    device: torch.device | str = "cpu",
    max_evals: int = 150,
    sigma0: float = 0.3,
) -> tuple[np.ndarray, float, float]:
    """Local re-estimate on other pools started at w_start (free norm): (unit w, scale, loss). Used by the
    sensitivity study, where the answer is expected near the baseline."""
    sim = Simulator(pools, ListEmbedder(embedding), seed=seed, device=device)
    obj = Objective(sim, EmbeddingLoss(sim.obs, kind=loss, seed=seed))
    x0 = np.r_[unit(w_start), np.log(np.linalg.norm(w_start))]
    th, f = _cma(obj, x0, sigma0=sigma0, max_evals=max_evals, seed=seed * 31 + 7)
    w = theta_to_w(th)
    return unit(w), float(np.linalg.norm(w)), float(f)


def _normalise_theta(theta: np.ndarray) -> np.ndarray:
    out = np.array(theta, dtype=np.float64)
    out[:-1] = unit(out[:-1])
    return out


def identification(obj: Objective, w: np.ndarray, step: float = 0.05) -> dict:
    """Rank and condition number of d(standardised moments)/d(local coordinates) at w by central differences.

    Coordinates: rotations of the direction by `step` radians along an orthonormal basis of the tangent
    space of the sphere, and log-scale steps of `step`."""
    u, r = unit(w), float(np.linalg.norm(w))
    K = len(u)
    basis = np.linalg.svd(np.eye(K) - np.outer(u, u))[0][:, : K - 1]  # tangent directions
    cols = []
    for j in range(K - 1):
        t = basis[:, j]
        plus = r * (np.cos(step) * u + np.sin(step) * t)
        minus = r * (np.cos(step) * u - np.sin(step) * t)
        cols.append((obj.residual(plus) - obj.residual(minus)) / (2 * step))
    cols.append((obj.residual(u * r * np.exp(step)) - obj.residual(u * r * np.exp(-step))) / (2 * step))
    J = np.stack(cols, axis=1)
    s = np.linalg.svd(J, compute_uv=False)
    tol = s[0] * RANK_TOLERANCE if s[0] > 0 else 1.0
    rank = int((s > tol).sum())
    cond = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    weak = rank < K or cond > WEAK_CONDITION
    return {
        "jacobian_rank": rank,
        "n_parameters": K,
        "n_moments": int(J.shape[0]),
        "condition_number": cond,
        "singular_values": [float(x) for x in s],
        "weakly_identified": bool(weak),
        "fd_step": step,
    }


def estimate_weights(
    pools: Pools,
    *,
    loss: str = "moments",
    embedding: str = "heads",
    restarts: int = 4,
    bootstrap: int = 50,
    seed: int = 0,
    device: torch.device | str = "cpu",
    min_sessions: int = MIN_SESSIONS,
    evals_per_restart: int = 200,
    evals_per_bootstrap: int = 80,
    progress: bool = True,
) -> Estimate:
    """Embedding-matching estimate of w from observed lists in `pools` (see the module docstring)."""
    if pools.n_sessions < min_sessions:
        raise EstimationError(
            f"value model: {pools.n_sessions} session(s) remain, at least {min_sessions} are needed to "
            f"estimate {len(HEADS)} weights; lower sessions.min_length / raise max_length, or use more data"
        )
    if restarts < 1:
        raise EstimationError(f"value_model.restarts must be >= 1; found {restarts}")
    embedder = ListEmbedder(embedding)
    sim = Simulator(pools, embedder, seed=seed, device=device)
    lossf = EmbeddingLoss(sim.obs, kind=loss, seed=seed)
    obj = Objective(sim, lossf)
    rng = np.random.default_rng(seed)
    K = len(HEADS)
    results = []
    for r in tqdm(range(restarts), desc="value model: restarts", disable=not progress):
        x0 = np.concatenate([unit(rng.normal(size=K)), [np.log(5.0) + rng.normal(scale=0.5)]])
        th, f = _cma(obj, x0, sigma0=0.5, max_evals=evals_per_restart, seed=seed * 1000 + r)
        th = _normalise_theta(th)
        results.append({"restart": r, "loss": f, "w": unit(th[:-1]).tolist(), "scale": float(np.exp(th[-1]))})
        log.info("restart %d: loss %.5g, w %s, scale %.3g", r, f, np.round(unit(th[:-1]), 3), np.exp(th[-1]))
    best = min(range(restarts), key=lambda i: results[i]["loss"])
    theta = np.concatenate([results[best]["w"], [np.log(results[best]["scale"])]])
    # polish the best start with a narrow search
    th, f = _cma(obj, theta, sigma0=0.1, max_evals=evals_per_restart, seed=seed * 1000 + restarts)
    if f < results[best]["loss"]:
        theta = _normalise_theta(th)
        results[best] = {
            **results[best],
            "loss": f,
            "w": unit(theta[:-1]).tolist(),
            "scale": float(np.exp(theta[-1])),
            "polished": True,
        }
    w_hat = theta_to_w(theta)
    est = Estimate(
        w=unit(w_hat),
        scale=float(np.linalg.norm(w_hat)),
        loss=results[best]["loss"],
        theta=theta,
        n_sessions=pools.n_sessions,
        evaluations=0,
        restarts=results,
    )
    spread = max(angle_deg(np.array(r_["w"]), est.w) for r_ in results)
    est.diagnostics = identification(obj, w_hat)
    est.diagnostics["restart_max_angle_deg"] = spread
    est.diagnostics["w_complete_positive"] = bool(est.w[0] > 0)
    if est.diagnostics["weakly_identified"]:
        log.warning(
            "value model weakly identified: Jacobian rank %d of %d, condition number %.3g",
            est.diagnostics["jacobian_rank"],
            K,
            est.diagnostics["condition_number"],
        )
    if not est.diagnostics["w_complete_positive"]:
        log.warning("estimated w_complete <= 0 (%.3f): the w_complete > 0 convention does not hold", est.w[0])
    evaluations = obj.evaluations
    if bootstrap > 0:
        # each replicate resamples sessions with replacement AND redraws the simulation's Gumbel noise
        # (a fresh seed), so the intervals carry the simulation variance as well as the sampling variance
        ws, scales = [], []
        for b in tqdm(range(bootstrap), desc="value model: bootstrap", disable=not progress):
            idx = np.sort(rng.integers(0, pools.n_sessions, size=pools.n_sessions))
            sim_b = Simulator(pools.take(idx), embedder, seed=seed * 7919 + 31 * b + 1, device=device)
            obj_b = Objective(sim_b, EmbeddingLoss(sim_b.obs, kind=loss, seed=seed))
            th, _ = _cma(
                obj_b, theta, 0.05, max_evals=evals_per_bootstrap, seed=seed * 7919 + b, keep_start=False
            )
            evaluations += obj_b.evaluations
            wb = theta_to_w(th)
            ws.append(unit(wb))
            scales.append(float(np.linalg.norm(wb)))
        est.bootstrap_w = np.array(ws)
        # normal-approximation intervals: the estimate +- 1.96 bootstrap standard deviations. The short
        # re-optimisations give a reliable spread, but their location drifts with the optimiser (a
        # percentile interval could exclude the estimate it belongs to).
        sd = est.bootstrap_w.std(axis=0, ddof=1)
        est.intervals = np.stack([est.w - Z95 * sd, est.w + Z95 * sd], axis=1)
        sd_log = float(np.std(np.log(scales), ddof=1))
        est.scale_interval = (est.scale * float(np.exp(-Z95 * sd_log)),
                              est.scale * float(np.exp(Z95 * sd_log)))
        est.diagnostics["bootstrap"] = {
            "replicates": int(bootstrap),
            "resamples": "sessions with replacement + fresh simulation noise per replicate",
            "max_angle_deg": float(max(angle_deg(w_, est.w) for w_ in ws)),
        }
    est.evaluations = evaluations
    return est

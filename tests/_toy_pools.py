"""Toy candidate pools with a planted w* (unit tests of the value-model estimators)."""

from __future__ import annotations

import numpy as np

from vmrec.contracts import PROB_COLUMNS
from vmrec.value_model.simulator import Pools, plant_lists


def toy_pools(
    n_sessions: int,
    pool_size: int,
    w_star: np.ndarray,
    noise_scale: float,
    seed: int,
    mean_length: float = 8.0,
    max_length: int = 40,
    n_videos: int = 500,
) -> Pools:
    """Synthetic pools for tests: correlated head probabilities (a shared latent 'quality'
    drives complete/long/rewatch up and neg down), geometric list lengths, lists planted with w*."""
    rng = np.random.default_rng(seed)
    S, M, K = n_sessions, pool_size, len(PROB_COLUMNS)
    q = rng.normal(size=(S, M, 1))
    z = np.concatenate([1.2 * q - 0.3, 0.9 * q - 0.8, 0.7 * q - 2.0, -1.0 * q - 1.0], axis=2)
    z = z + rng.normal(scale=0.8, size=(S, M, K))
    P = (1 / (1 + np.exp(-z))).astype(np.float32)
    length = np.minimum(rng.geometric(1.0 / mean_length, size=S), min(max_length, M - 1)).astype(np.int64)
    video = rng.integers(0, n_videos, size=(S, M)).astype(np.int64)
    pools = Pools(
        P=P,
        valid=np.ones((S, M), dtype=bool),
        shown=np.zeros((S, 1), dtype=np.int64),
        length=length,
        session_id=np.arange(S, dtype=np.int64),
        video_id=video,
    )
    return plant_lists(pools, np.asarray(w_star, dtype=np.float64), noise_scale, seed + 1)

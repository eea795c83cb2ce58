"""small_matrix: the fully observed block of small-block users x small-block videos.

Every cell is viewed once at a random time in SMALL_RANGE, except a few blocked (missing) cells per
user; a share of rows has no time, as in the release. See (docs/data.md, "The synthetic world") and
(docs/data.md, "Quirks the loader handles").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmrec.synthetic.behaviour import behave
from vmrec.synthetic.clock import SMALL_RANGE, day_index, local_hour, sample_times
from vmrec.synthetic.world import DURATION_MIN_MS, ScaleSpec, World

SMALL_MISSING_TIME = 0.039
SMALL_MISSING_FRACTION = 17_827 / (1411 * 3327)  # unobserved cells of the small block


@dataclass
class SmallLog:
    user: np.ndarray
    video: np.ndarray
    d: np.ndarray
    ts: np.ndarray
    has_time: np.ndarray
    play: np.ndarray
    probs: np.ndarray


def _missing_per_user(n_users: int, n_videos: int, rng: np.random.Generator) -> np.ndarray:
    """Blocked (missing) small cells per user: 0..32 at full scale (scaled down with the block), in
    total SMALL_MISSING_FRACTION of the block (exactly 17,827 cells at full scale, as in the release)."""
    cap = max(1, round(32 * n_videos / 3327))
    total = min(round(SMALL_MISSING_FRACTION * n_users * n_videos), cap * n_users)
    counts = rng.multinomial(total, np.full(n_users, 1.0 / n_users))
    while (over := np.maximum(counts - cap, 0)).any():
        counts -= over
        free = np.flatnonzero(counts < cap)
        counts += np.bincount(rng.choice(free, size=int(over.sum())), minlength=n_users)
    return counts


def simulate_small(world: World, spec: ScaleSpec, rng: np.random.Generator) -> SmallLog:
    su, sv = world.small_users, world.small_videos
    n_sv = len(sv)
    # 0..max_missing blocked (missing) cells per user, mean 0.38% of the row
    n_missing = _missing_per_user(len(su), n_sv, rng)
    keep = np.ones((len(su), n_sv), bool)
    for i, k in enumerate(n_missing.tolist()):
        if k:
            keep[i, rng.choice(n_sv, size=k, replace=False)] = False
    uu, vv = np.nonzero(keep)
    user = su[uu].astype(np.int32)
    video = sv[vv].astype(np.int32)
    n = len(user)
    ts = sample_times(np.arange(day_index(SMALL_RANGE[0]), day_index(SMALL_RANGE[1]) + 1), n, rng)
    order = np.lexsort((ts, user))
    user, video, ts = user[order], video[order], ts[order]
    jitter = np.where(rng.random(n) < 0.12, rng.integers(-3, 4, n), 0)
    d = np.maximum(world.dur[video] + jitter, DURATION_MIN_MS)
    probs, play = behave(world, user, video, local_hour(ts), d, rng, desc="small views")
    has_time = rng.random(n) >= SMALL_MISSING_TIME
    return SmallLog(user, video, d, ts, has_time, play, probs)

"""The behaviour model: what one view of user u on video v (duration d ms, local hour h) plays.

The play duration is p = floor(X) ms where X is drawn from a three-component mixture:
  skip  (prob pi_s): X = 0 with prob SKIP_ZERO, else lognormal(log SKIP_MEDIAN_MS, SKIP_SIGMA);
  watch (prob pi_w): log X ~ Normal(mu, WATCH_SIGMA);
  loop  (prob pi_l): X = d * (1 + E), E ~ Lomax(shape LOOP_SHAPE, scale LOOP_SCALE) (an exponential
                     whose rate varies between views: a heavier tail of rewatches).
(pi_s, pi_w, pi_l) = softmax(l_s, 0, l_l). l_s, l_l and mu mix observable effects (log duration, tags,
user activity and a user category, hour of day, video quality which drives popularity and the daily
statistics) with three separate low-rank latent user x video affinities (partly shared), so the four
heads are correlated but not redundant and a collaborative model can learn what edge features cannot.
Because p = floor(X), `p >= k` (k integer) iff `X >= k`, so every head probability at the default label
thresholds is a closed-form mixture of lognormal / exponential tails (see `head_probs`).
See (docs/data.md, "The synthetic world").
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from tqdm import tqdm

from vmrec.synthetic.clock import HOUR_PROFILE
from vmrec.synthetic.world import REF_DURATION_MS, World

# Label thresholds the true probabilities refer to (the config defaults: docs/data.md, "Labels").
LABEL_THRESHOLDS = {"complete_ratio": 0.9, "long_seconds": 18.0, "rewatch_ratio": 2.0, "neg_seconds": 3.0}

SKIP_MEDIAN_MS = 1500.0
SKIP_SIGMA = 0.9
SKIP_ZERO = 0.06
WATCH_MEDIAN_MS = 5500.0
WATCH_SIGMA = 0.3
WATCH_DURATION_SLOPE = 0.7
LOOP_SCALE = 1.5  # at REF_DURATION_MS; scaled by (d / REF_DURATION_MS) ** -LOOP_DURATION_POWER
LOOP_SHAPE = 1.5
LOOP_DURATION_POWER = 0.3  # short videos are looped more times (a thicker watch-ratio tail)
SKIP_BIAS = -0.1
LOOP_BIAS = -3.1


def _mixture(world: World, u: np.ndarray, v: np.ndarray, hour: np.ndarray, d: np.ndarray,
             offset: np.ndarray | None = None):
    """Mixture parameters (pi_s, pi_w, pi_l, mu) of views (u, v) at local hour `hour`, duration d ms.

    `world.extra_offsets` (None in the simple world) and `offset` ((n, 3), e.g. the platform world's
    position and fatigue) are added to (l_s, mu, l_l)."""
    x = np.log(d / REF_DURATION_MS)
    aff = np.einsum("nck,nck->nc", world.u_lat[u], world.v_lat[v], dtype=np.float64)
    st = world.u_static[u] + world.v_static[v]
    ang = 2 * np.pi * hour / 24.0
    l_s = SKIP_BIAS + 0.35 * x + st[:, 0] + 0.2 * np.cos(ang - 2 * np.pi * 3 / 24) - aff[:, 0]
    l_l = LOOP_BIAS - 0.9 * x + st[:, 2] + aff[:, 2]
    mu = (np.log(WATCH_MEDIAN_MS) + WATCH_DURATION_SLOPE * x + st[:, 1]
          + 0.1 * np.cos(ang - 2 * np.pi * 21 / 24) + aff[:, 1])
    for off in (world.extra_offsets(u, v, x), offset):
        if off is not None:
            l_s, mu, l_l = l_s + off[:, 0], mu + off[:, 1], l_l + off[:, 2]
    m = np.maximum(np.maximum(l_s, l_l), 0.0)
    es, ew, el = np.exp(l_s - m), np.exp(-m), np.exp(l_l - m)
    z = es + ew + el
    return es / z, ew / z, el / z, mu


def loop_scale(d: np.ndarray) -> np.ndarray:
    """Lomax scale of the extra loops E of the loop component for videos of duration d ms."""
    return LOOP_SCALE * (np.asarray(d, dtype=np.float64) / REF_DURATION_MS) ** -LOOP_DURATION_POWER


def _survival(pi_s, pi_w, pi_l, mu, d, k) -> np.ndarray:
    """P(X >= k) of the mixture (k > 0 in ms); equals P(floor(X) >= k) for integer k."""
    lk = np.log(k)
    s_skip = (1.0 - SKIP_ZERO) * ndtr(-(lk - np.log(SKIP_MEDIAN_MS)) / SKIP_SIGMA)
    s_watch = ndtr(-(lk - mu) / WATCH_SIGMA)
    s_loop = np.where(k <= d, 1.0, (1.0 + np.maximum(k / d - 1.0, 0.0) / loop_scale(d)) ** -LOOP_SHAPE)
    return pi_s * s_skip + pi_w * s_watch + pi_l * s_loop


def label_cutoffs(d: np.ndarray) -> dict[str, np.ndarray]:
    """Smallest integer play p (ms) meeting each threshold at the default labels (neg: p < cutoff)."""
    d = np.asarray(d, dtype=np.int64)
    df = d.astype(np.float64)
    t = LABEL_THRESHOLDS
    long_ms = t["long_seconds"] * 1000.0
    return {
        "complete": np.ceil(t["complete_ratio"] * df),
        "long": np.ceil(np.where(df <= long_ms, df, long_ms)),
        "rewatch": np.ceil(t["rewatch_ratio"] * df),
        "neg": np.ceil(np.minimum(t["neg_seconds"] * 1000.0, df)),
    }


def _head_probs_from(mix, d: np.ndarray) -> np.ndarray:
    pi_s, pi_w, pi_l, mu = mix
    df = d.astype(np.float64)
    cut = label_cutoffs(d)
    out = np.empty((len(d), 4))
    out[:, 0] = _survival(pi_s, pi_w, pi_l, mu, df, cut["complete"])
    out[:, 1] = _survival(pi_s, pi_w, pi_l, mu, df, cut["long"])
    out[:, 2] = _survival(pi_s, pi_w, pi_l, mu, df, cut["rewatch"])
    out[:, 3] = 1.0 - _survival(pi_s, pi_w, pi_l, mu, df, cut["neg"])
    return out


def head_probs(world: World, u: np.ndarray, v: np.ndarray, hour: np.ndarray, d: np.ndarray,
               offset: np.ndarray | None = None) -> np.ndarray:
    """(n, 4) true probabilities of HEADS at the default thresholds for views (u, v, hour, d); `offset`
    ((n, 3) on (l_s, mu, l_l)) is the context of a view beyond its hour (the platform world's position
    and fatigue; None: none, a session's first view)."""
    return _head_probs_from(_mixture(world, u, v, hour, d, offset), np.asarray(d))


def _sample_play(mix, d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Integer play durations (ms) drawn from the mixture."""
    pi_s, pi_w, pi_l, mu = mix
    n = len(d)
    r = rng.random(n)
    z = rng.standard_normal(n)
    e = loop_scale(d) * ((1.0 - rng.random(n)) ** (-1.0 / LOOP_SHAPE) - 1.0)
    zero = rng.random(n) < SKIP_ZERO
    x_skip = np.where(zero, 0.0, np.exp(np.log(SKIP_MEDIAN_MS) + SKIP_SIGMA * z))
    x_watch = np.exp(mu + WATCH_SIGMA * z)
    x_loop = d * (1.0 + e)
    x = np.where(r < pi_s, x_skip, np.where(r < pi_s + pi_w, x_watch, x_loop))
    return np.floor(x).astype(np.int64)


def behave(world: World, u, v, hour, d, rng: np.random.Generator | None, chunk: int = 500_000,
           desc: str | None = None, offset: np.ndarray | None = None):
    """Probabilities (float32, (n, 4)) and, with rng, sampled plays for many views, in chunks."""
    n = len(u)
    probs = np.empty((n, 4), np.float32)
    plays = np.empty(n, np.int64) if rng is not None else None
    starts = range(0, n, chunk)
    for s in tqdm(starts, desc=desc, disable=desc is None or n <= chunk, mininterval=2):
        sl = slice(s, s + chunk)
        dd = np.asarray(d[sl])
        mix = _mixture(world, u[sl], v[sl], hour[sl], dd.astype(np.float64),
                       None if offset is None else offset[sl])
        probs[sl] = _head_probs_from(mix, dd)
        if rng is not None:
            plays[sl] = _sample_play(mix, dd.astype(np.float64), rng)
    return probs, plays


def platform_rates(world: World, rng: np.random.Generator, n_ref: int = 32) -> dict[str, np.ndarray]:
    """Per video, the platform-wide true rates under the release's play definitions
    (docs/data.md, "The release's files"), averaged over `n_ref` random users at random hours: what the
    daily statistics are drawn from."""
    V = world.n_videos
    v = np.repeat(np.arange(V), n_ref)
    u = rng.integers(0, world.n_users, len(v))
    hour = rng.choice(24, size=len(v), p=HOUR_PROFILE / HOUR_PROFILE.sum()) + rng.random(len(v))
    d = world.dur[v].astype(np.float64)
    mix = _mixture(world, u, v, hour, d)
    ps, pw, pl, mu = mix
    out = {
        "complete": _survival(ps, pw, pl, mu, d, d),
        "valid": _survival(ps, pw, pl, mu, d, np.where(d <= 7000, d, 7001.0)),
        "long": _survival(ps, pw, pl, mu, d, np.where(d <= 18000, d, 18000.0)),
        "short": 1.0 - _survival(ps, pw, pl, mu, d, np.ceil(np.minimum(3000.0, d))),
        "progress": np.mean([_survival(ps, pw, pl, mu, d, np.maximum(r * d, 1.0))
                             for r in np.linspace(0.05, 0.95, 10)], axis=0),
        "mean_play": ps * SKIP_MEDIAN_MS * np.exp(SKIP_SIGMA**2 / 2) * (1 - SKIP_ZERO)
        + pw * np.exp(mu + WATCH_SIGMA**2 / 2) + pl * d * (1 + loop_scale(d) / (LOOP_SHAPE - 1)),
    }
    return {k: x.reshape(V, n_ref).mean(axis=1) for k, x in out.items()}

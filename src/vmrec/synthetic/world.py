"""The synthetic world: users, videos and the parameters of the behaviour model they carry.

`make_world(scale, seed)` rebuilds the world that `generate(root, scale, seed, ...)` planted: activity,
categories, latent user x video affinities, video durations, tags, quality and popularity, and the
small block (the fully observed users x videos of small_matrix). SCALES holds the sizes of each scale.
See (docs/data.md, "The synthetic world").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmrec.contracts import N_TAGS

REF_DURATION_MS = 9600.0
DURATION_LOG_MEDIAN = np.log(12260.0)  # of the catalogue; exposure shifts the view median to ~9.6 s
DURATION_LOG_SIGMA = 0.6
DURATION_MIN_MS, DURATION_MAX_MS = 140, 315_000
LATENT_DIM = 8
AFF_STD = (0.6, 0.3, 0.6)  # std of the latent affinity on (skip logit, watch log-mean, loop logit)
USER_ACT_EFF = (-0.7, 0.08, -0.6)  # effect of user activity on (skip logit, watch log-mean, loop logit)
QUALITY_EFF = (-0.8, 0.35, -0.2)  # effect of video quality on (skip logit, watch log-mean, loop logit)
POPULARITY_POWER = 1.0
POP_NOISE, POP_QUALITY, POP_SHORT = 0.9, 1.0, 0.5  # log popularity = noise + quality - short * log d
SMALL_VIDEO_POP_POWER = 4.0  # small-block videos drawn without replacement with prob ~ pop ** this
SMALL_VIDEO_SHORT = -0.3  # ... times (d / REF_DURATION_MS) ** -this (< 0: longer, fewer > 2 ratios)
SMALL_USER_ACT = 3.0  # small-block users drawn without replacement with prob ~ exp(this * activity)


@dataclass(frozen=True)
class ScaleSpec:
    """Sizes of one synthetic scale."""

    n_users: int
    n_videos: int
    n_small_users: int
    n_small_videos: int
    big_rows: int
    n_social: int
    pool_sessions_stored: int | None  # None: every session's pool is stored
    # share of planned views cut where a session runs into the user's next one (measured per scale;
    # denser users at full scale collide more): planned views are scaled up by it to hit big_rows
    cut_share: float = 0.0
    # Monte Carlo draws of the planted in-list propensities (synthetic.propensity; standard error at
    # most 0.5 / sqrt(draws + 1)); 0: the mean-field approximation (full scale, where draws cost most)
    propensity_draws: int = 256


SCALES: dict[str, ScaleSpec] = {
    "tiny": ScaleSpec(300, 400, 60, 120, 60_000, 20, None, 0.006),
    "small": ScaleSpec(1500, 2500, 300, 780, 600_000, 100, None, 0.01),
    "full": ScaleSpec(7176, 10728, 1411, 3327, 12_530_806, 472, 100_000, 0.045, propensity_draws=0),
}


@dataclass
class World:
    """Users, videos and the parameters of the behaviour model."""

    n_users: int
    n_videos: int
    # users
    act: np.ndarray  # (U,) activity (standard normal)
    ucat: np.ndarray  # (U,) onehot_feat1 category 0..7 (observable, shifts mu)
    ucat_eff: np.ndarray  # (8,)
    lowactive: np.ndarray  # (U,) int8
    u_lat: np.ndarray  # (U, 3, K) float32 latent user factors for skip / watch / loop
    u_static: np.ndarray  # (U, 3) observable user effects on (l_s, mu, l_l)
    # videos
    dur: np.ndarray  # (V,) int64 ms
    tags: list[list[int]]
    tag_eff: np.ndarray  # (V, 3) mean tag effect on l_s, mu, l_l
    quality: np.ndarray  # (V,)
    pop: np.ndarray  # (V,) popularity weight (sums to 1)
    v_lat: np.ndarray  # (V, 3, K) float32
    v_static: np.ndarray  # (V, 3) observable video effects on (l_s, mu, l_l)
    pop_alias: tuple[np.ndarray, np.ndarray]  # alias table of `pop` for O(1) sampling
    small_users: np.ndarray  # sorted ids
    small_videos: np.ndarray  # sorted ids
    is_small_user: np.ndarray  # (U,) bool
    is_small_video: np.ndarray  # (V,) bool

    def extra_offsets(self, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> np.ndarray | None:
        """Offsets (n, 3) of (l_s, mu, l_l) beyond the bilinear model (x = log(d / REF_DURATION_MS));
        None here, the platform world adds its nonlinear affinity (synthetic.platform)."""
        return None


def build_world(spec: ScaleSpec, rng: np.random.Generator) -> World:
    U, V, K = spec.n_users, spec.n_videos, LATENT_DIM
    act = rng.standard_normal(U)
    ucat = rng.choice(8, size=U, p=[0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03])
    ucat_eff = rng.normal(0.0, 0.12, 8)
    lowactive = (rng.random(U) < 0.02).astype(np.int8)

    # Latent affinities: a shared part plus a component-specific part (correlated, not redundant).
    def latent(n: int) -> np.ndarray:
        shared = rng.standard_normal((n, K))
        own = rng.standard_normal((3, n, K))
        return np.sqrt(0.5) * shared[None] + np.sqrt(0.5) * own

    u_lat = latent(U)
    v_lat = latent(V)
    # scale so that the affinity u.v has std (skip logit, watch log-mean, loop logit) below
    aff_std = np.array(AFF_STD)
    u_lat *= np.sqrt(aff_std / np.sqrt(K))[:, None, None]
    v_lat *= np.sqrt(aff_std / np.sqrt(K))[:, None, None]

    dur = np.exp(DURATION_LOG_MEDIAN + DURATION_LOG_SIGMA * rng.standard_normal(V))
    dur = np.clip(np.rint(dur), DURATION_MIN_MS, DURATION_MAX_MS).astype(np.int64)

    tag_pop = 1.0 / np.arange(1, N_TAGS + 1) ** 0.8
    tag_pop = rng.permutation(tag_pop / tag_pop.sum())
    n_tags = rng.choice([1, 2, 3, 4], size=V, p=[0.72, 0.2, 0.06, 0.02])
    tags = [rng.choice(N_TAGS, size=k, replace=False, p=tag_pop).tolist() for k in n_tags]
    tag_effects = rng.normal(0.0, [0.35, 0.15, 0.3], size=(N_TAGS, 3))
    tag_eff = np.array([tag_effects[t].mean(axis=0) for t in tags])

    quality = rng.standard_normal(V)
    log_pop = (POP_NOISE * rng.standard_normal(V) + POP_QUALITY * quality
               - POP_SHORT * np.log(dur / REF_DURATION_MS))
    pop = np.exp(POPULARITY_POWER * log_pop)
    pop /= pop.sum()

    # the release's small block holds popular videos and active users
    pu = np.exp(SMALL_USER_ACT * act)
    small_users = np.sort(rng.choice(U, size=spec.n_small_users, replace=False, p=pu / pu.sum()))
    pv = pop ** SMALL_VIDEO_POP_POWER * (dur / REF_DURATION_MS) ** -SMALL_VIDEO_SHORT
    small_videos = np.sort(rng.choice(V, size=spec.n_small_videos, replace=False, p=pv / pv.sum()))
    is_su = np.zeros(U, bool)
    is_su[small_users] = True
    is_sv = np.zeros(V, bool)
    is_sv[small_videos] = True
    # the release's small block holds popular videos: keep them at least median-popular, so each is in big
    pop[small_videos] = np.maximum(pop[small_videos], np.median(pop))
    pop /= pop.sum()
    ae = USER_ACT_EFF
    u_static = np.stack([ae[0] * act + 0.5 * lowactive, ae[1] * act + ucat_eff[ucat], ae[2] * act], axis=1)
    qe = QUALITY_EFF
    v_static = np.stack([qe[0] * quality + tag_eff[:, 0], qe[1] * quality + tag_eff[:, 1],
                         qe[2] * quality + tag_eff[:, 2]], axis=1)
    return World(U, V, act, ucat, ucat_eff, lowactive,
                 np.ascontiguousarray(u_lat.transpose(1, 0, 2), dtype=np.float32), u_static,
                 dur, tags, tag_eff, quality, pop,
                 np.ascontiguousarray(v_lat.transpose(1, 0, 2), dtype=np.float32), v_static,
                 _alias_table(pop), small_users, small_videos, is_su, is_sv)


WORLDS = ("simple", "platform")


def make_world(scale: str, seed: int, world: str = "simple") -> World:
    """The users, videos and behaviour parameters that `generate(root, scale, seed, ..., world=world)`
    plants (truth.json's "world", absent = simple)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}; found {scale!r}")
    if world not in WORLDS:
        raise ValueError(f"world must be one of {list(WORLDS)}; found {world!r}")
    streams = np.random.SeedSequence(seed).spawn(9)  # 0..7: generate's streams; 8: the platform's own
    base = build_world(SCALES[scale], np.random.default_rng(streams[0]))
    if world == "simple":
        return base
    from vmrec.synthetic.platform import build_platform_world

    return build_platform_world(base, SCALES[scale], np.random.default_rng(streams[8]))


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of a discrete distribution (deterministic construction)."""
    n = len(p)
    prob = np.asarray(p, dtype=np.float64) * n / np.sum(p)
    alias = np.arange(n)
    small = [i for i in range(n) if prob[i] < 1.0]
    large = [i for i in range(n) if prob[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        alias[s] = g
        prob[g] -= 1.0 - prob[s]
        (small if prob[g] < 1.0 else large).append(g)
    for i in small + large:
        prob[i] = 1.0
    return prob, alias


def sample_alias(table: tuple[np.ndarray, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    prob, alias = table
    i = rng.integers(0, len(prob), n)
    return np.where(rng.random(n) < prob[i], i, alias[i])

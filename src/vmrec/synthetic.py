"""Synthetic KuaiRec 2.0 with planted ground truth.

`generate()` writes the seven KuaiRec 2.0 CSVs in the exact release formats (docs: KUAIREC.md) plus
`truth/` (contracts.TRUTH_*): the true head probabilities of every small cell and every big row, the
candidate pools of the logged sessions and the planted value model of the logging policy.

Behaviour model (one view of user u on video v, duration d ms, context hour h). The play duration is
p = floor(X) ms where X is drawn from a three-component mixture:
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

Logging policy (big_matrix): each user has sessions; a session with planned length L draws a candidate
pool of max(POOL_MIN, POOL_FACTOR * L) distinct videos (popularity-tilted, small-block videos excluded
for small-block users), scores each by w* . p(u, v, session start) + noise_scale * Gumbel and shows the
top L in rank order (a Plackett-Luce draw with utilities w* . p / noise_scale).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.special import ndtr
from tqdm import tqdm

from vmrec.contracts import (
    HEADS,
    N_TAGS,
    PROB_COLUMNS,
    RAW_SUBDIR,
    TABLE_COLUMNS,
    TRUTH_BIG,
    TRUTH_JSON,
    TRUTH_POOLS,
    TRUTH_SMALL,
)

log = logging.getLogger("vmrec.synthetic")

GENERATOR_VERSION = "1.2"

# Label thresholds the true probabilities refer to (the config defaults, DESIGN.md).
LABEL_THRESHOLDS = {"complete_ratio": 0.9, "long_seconds": 18.0, "rewatch_ratio": 2.0, "neg_seconds": 3.0}

# --- time -------------------------------------------------------------------------------------------
MS_DAY = 86_400_000
MS_HOUR = 3_600_000
LOCAL_OFFSET_MS = 8 * MS_HOUR  # Beijing = UTC + 8 h
DAY0 = np.datetime64("2020-07-05", "D")  # local day index 0
DAY0_UTC_MS = int(DAY0.astype("datetime64[ms]").astype(np.int64)) - LOCAL_OFFSET_MS  # local midnight
BIG_WINDOWS = (("2020-07-05", "2020-07-12"), ("2020-08-01", "2020-08-10"), ("2020-08-27", "2020-09-05"))
SMALL_RANGE = ("2020-07-05", "2020-09-05")
STRAY_RANGE = ("2020-06-23", "2020-09-10")
# Relative rate of session starts per local hour of day (evening peak).
HOUR_PROFILE = np.array([3.0, 2.0, 1.2, 0.7, 0.5, 0.5, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
                         3.6, 3.4, 3.0, 3.0, 3.1, 3.4, 3.8, 4.4, 5.0, 5.4, 5.2, 4.2])

# --- behaviour model constants -------------------------------------------------------------------
REF_DURATION_MS = 9600.0
DURATION_LOG_MEDIAN = np.log(12260.0)  # of the catalogue; exposure shifts the view median to ~9.6 s
DURATION_LOG_SIGMA = 0.6
DURATION_MIN_MS, DURATION_MAX_MS = 140, 315_000
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
LATENT_DIM = 8
AFF_STD = (0.6, 0.3, 0.6)  # std of the latent affinity on (skip logit, watch log-mean, loop logit)
USER_ACT_EFF = (-0.7, 0.08, -0.6)  # effect of user activity on (skip logit, watch log-mean, loop logit)
QUALITY_EFF = (-0.8, 0.35, -0.2)  # effect of video quality on (skip logit, watch log-mean, loop logit)
DUP_RATE = 0.0834  # duplicates per view -> 7.7% of big rows
DATE_MISMATCH_RATE = 0.0012
SMALL_MISSING_TIME = 0.039
SMALL_MISSING_FRACTION = 17_827 / (1411 * 3327)  # unobserved cells of the small block
STRAY_SESSION_RATE = 0.0005

# --- logging policy -------------------------------------------------------------------------------
POOL_MIN = 50
POOL_FACTOR = 2
SESSION_LOG_MEDIAN = np.log(13.0)
SESSION_LOG_SIGMA = 0.8
SESSION_MAX = 200
SESSION_MIN_START_GAP_MS = 45 * 60_000  # between starts of consecutive sessions of a user
SESSION_END_GAP_MS = 40 * 60_000  # views closer than this to the next session start are not logged
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


SCALES: dict[str, ScaleSpec] = {
    "tiny": ScaleSpec(300, 400, 60, 120, 60_000, 20, None, 0.006),
    "small": ScaleSpec(1500, 2500, 300, 780, 600_000, 100, None, 0.01),
    "full": ScaleSpec(7176, 10728, 1411, 3327, 12_530_806, 472, 100_000, 0.045),
}

TAG_NAMES = ("美食", "搞笑", "音乐", "舞蹈", "游戏", "宠物", "旅行", "时尚", "美妆", "体育", "汽车", "科技",
             "教育", "影视", "动漫", "亲子", "生活", "情感", "健身", "摄影", "三农", "军事", "历史", "财经",
             "房产", "家居", "手工", "职场", "健康", "明星", "才艺")
WORDS = ("今天", "分享", "一下", "我的", "日常", "快乐", "生活", "记录", "美好", "时光", "朋友", "一起",
         "喜欢", "关注", "点赞", "视频", "好看", "真的", "太", "了", "这个", "夏天", "回家", "晚上",
         "第一次", "挑战", "教程", "简单", "味道", "宝宝", "猫咪", "狗狗", "城市", "风景", "努力", "加油")


# =================================================================================================
# the world: users, videos and their parameters
# =================================================================================================
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


def _make_world(spec: ScaleSpec, rng: np.random.Generator) -> World:
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


def make_world(scale: str, seed: int) -> World:
    """The users, videos and behaviour parameters that `generate(root, scale, seed, ...)` plants."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}; found {scale!r}")
    return _make_world(SCALES[scale], np.random.default_rng(np.random.SeedSequence(seed).spawn(8)[0]))


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


def _sample_alias(table: tuple[np.ndarray, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    prob, alias = table
    i = rng.integers(0, len(prob), n)
    return np.where(rng.random(n) < prob[i], i, alias[i])


# =================================================================================================
# the behaviour model
# =================================================================================================
def _mixture(world: World, u: np.ndarray, v: np.ndarray, hour: np.ndarray, d: np.ndarray):
    """Mixture parameters (pi_s, pi_w, pi_l, mu) of views (u, v) at local hour `hour`, duration d ms."""
    x = np.log(d / REF_DURATION_MS)
    aff = np.einsum("nck,nck->nc", world.u_lat[u], world.v_lat[v], dtype=np.float64)
    st = world.u_static[u] + world.v_static[v]
    ang = 2 * np.pi * hour / 24.0
    l_s = SKIP_BIAS + 0.35 * x + st[:, 0] + 0.2 * np.cos(ang - 2 * np.pi * 3 / 24) - aff[:, 0]
    l_l = LOOP_BIAS - 0.9 * x + st[:, 2] + aff[:, 2]
    mu = (np.log(WATCH_MEDIAN_MS) + WATCH_DURATION_SLOPE * x + st[:, 1]
          + 0.1 * np.cos(ang - 2 * np.pi * 21 / 24) + aff[:, 1])
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


def head_probs(world: World, u: np.ndarray, v: np.ndarray, hour: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(n, 4) true probabilities of HEADS at the default thresholds for views (u, v, hour, d)."""
    return _head_probs_from(_mixture(world, u, v, hour, d), np.asarray(d))


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


def _behave(world: World, u, v, hour, d, rng: np.random.Generator | None, chunk: int = 500_000,
            desc: str | None = None):
    """Probabilities (float32, (n, 4)) and, with rng, sampled plays for many views, in chunks."""
    n = len(u)
    probs = np.empty((n, 4), np.float32)
    plays = np.empty(n, np.int64) if rng is not None else None
    starts = range(0, n, chunk)
    for s in tqdm(starts, desc=desc, disable=desc is None or n <= chunk, mininterval=2):
        sl = slice(s, s + chunk)
        dd = np.asarray(d[sl])
        mix = _mixture(world, u[sl], v[sl], hour[sl], dd.astype(np.float64))
        probs[sl] = _head_probs_from(mix, dd)
        if rng is not None:
            plays[sl] = _sample_play(mix, dd.astype(np.float64), rng)
    return probs, plays


# =================================================================================================
# time helpers
# =================================================================================================
def _day_index(date: str) -> int:
    return int((np.datetime64(date, "D") - DAY0).astype(int))


def _window_days(windows) -> np.ndarray:
    return np.concatenate([np.arange(_day_index(a), _day_index(b) + 1) for a, b in windows])


def _sample_times(days: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """UTC ms of n times on the given local days with the evening-peaked hour profile."""
    day = rng.choice(days, size=n)
    hour = rng.choice(24, size=n, p=HOUR_PROFILE / HOUR_PROFILE.sum())
    within = rng.integers(0, MS_HOUR, size=n)
    return DAY0_UTC_MS + day.astype(np.int64) * MS_DAY + hour * MS_HOUR + within


def local_hour(ts_ms: np.ndarray) -> np.ndarray:
    """Fractional local (Beijing) hour of day of UTC ms timestamps."""
    return ((ts_ms + LOCAL_OFFSET_MS) % MS_DAY) / MS_HOUR


def _local_day(ts_ms: np.ndarray) -> np.ndarray:
    return (ts_ms - DAY0_UTC_MS) // MS_DAY


def _day_to_yyyymmdd(day: np.ndarray) -> np.ndarray:
    dates = (DAY0 + day.astype("timedelta64[D]")).astype("datetime64[D]")
    s = np.datetime_as_string(dates)
    return np.char.replace(s, "-", "").astype(np.int64)


# =================================================================================================
# the logging policy: sessions, candidate pools, ranking (big_matrix)
# =================================================================================================
def _plan_sessions(world: World, spec: ScaleSpec, rng: np.random.Generator):
    """Per session: user, planned length, start (UTC ms); sorted by user then start."""
    n_views = spec.big_rows / (1.0 + DUP_RATE) / (1.0 - spec.cut_share)
    w = np.exp(0.6 * world.act)
    views_u = np.maximum(np.rint(n_views * w / w.sum()), 0).astype(np.int64)
    views_u = np.maximum(views_u, max(10, int(0.057 * n_views / world.n_users)))
    med_len = np.exp(SESSION_LOG_MEDIAN)
    n_draw = (views_u / med_len * 1.3 + 20).astype(np.int64)
    total = int(n_draw.sum())
    lengths = np.minimum(1 + np.floor(np.exp(SESSION_LOG_MEDIAN + SESSION_LOG_SIGMA
                                              * rng.standard_normal(total))), SESSION_MAX).astype(np.int64)
    user = np.repeat(np.arange(world.n_users), n_draw)
    first = np.concatenate([[0], np.cumsum(n_draw)[:-1]])
    cs = np.cumsum(lengths)
    before = cs - lengths - np.repeat(cs[first] - lengths[first], n_draw)  # views before this session
    keep = before < np.repeat(views_u, n_draw)
    lengths = np.minimum(lengths, np.repeat(views_u, n_draw) - before)
    # top up users whose drawn sessions did not reach their view count (rare): lengthen their last one
    user, lengths = user[keep], lengths[keep]
    got = np.bincount(user, weights=lengths, minlength=world.n_users).astype(np.int64)
    short = views_u - got
    last = np.r_[np.flatnonzero(np.diff(user)), len(user) - 1]
    lengths[last] += short[user[last]]
    # split sessions longer than SESSION_MAX created by the top-up
    over = lengths > SESSION_MAX
    if over.any():
        reps = np.where(over, -(-lengths // SESSION_MAX), 1)
        user = np.repeat(user, reps)
        new = np.repeat(lengths, reps)
        idx_in = np.arange(len(new)) - np.repeat(np.cumsum(reps) - reps, reps)
        new = np.minimum(new - idx_in * SESSION_MAX, SESSION_MAX)
        lengths = new
    n_sess = len(user)
    # starts: windows with the hour profile; a few strays; then spaced per user
    start = _sample_times(_window_days(BIG_WINDOWS), n_sess, rng)
    stray = rng.random(n_sess) < STRAY_SESSION_RATE
    if stray.any():
        start[stray] = _sample_times(_window_days((STRAY_RANGE,)), int(stray.sum()), rng)
    order = np.lexsort((start, user))
    user, lengths, start = user[order], lengths[order], start[order]
    # enforce start_i >= start_{i-1} + gap within each user: s'_i = gap*i + cummax(s_j - gap*j)
    first_idx = np.r_[0, np.flatnonzero(np.diff(user)) + 1]
    j = np.arange(n_sess) - np.repeat(first_idx, np.diff(np.r_[first_idx, n_sess]))
    big = np.int64(10**13)
    val = start - SESSION_MIN_START_GAP_MS * j + user.astype(np.int64) * big
    start = np.maximum.accumulate(val) - user.astype(np.int64) * big + SESSION_MIN_START_GAP_MS * j
    return user.astype(np.int32), lengths.astype(np.int64), start


def _draw_pools(world: World, sess_user: np.ndarray, pool_size: np.ndarray, rng: np.random.Generator):
    """Candidate pools: (session index, video) pairs in draw order, `pool_size` distinct videos each.

    Videos are drawn with replacement in proportion to popularity; repeats and excluded videos
    (small-block videos for small-block users) are dropped; the first `pool_size` distinct remain.
    """
    n = len(sess_user)
    have_s: list[np.ndarray] = []
    have_v: list[np.ndarray] = []
    need = pool_size.copy()
    todo = np.arange(n)
    factor = 1.3
    for _ in range(50):
        if len(todo) == 0:
            break
        m = (need[todo] * factor + 8).astype(np.int64)
        s = np.repeat(todo, m)
        v = _sample_alias(world.pop_alias, len(s), rng)
        ok = ~(world.is_small_user[sess_user[s]] & world.is_small_video[v])
        have_s.append(s[ok])
        have_v.append(v[ok])
        s_all = np.concatenate(have_s)
        v_all = np.concatenate(have_v)
        key = s_all.astype(np.int64) * world.n_videos + v_all
        _, first = np.unique(key, return_index=True)
        first.sort()  # draw order within each session (draws are appended in order)
        s_all, v_all = s_all[first], v_all[first]
        order = np.argsort(s_all, kind="stable")
        s_all, v_all = s_all[order], v_all[order]
        counts = np.bincount(s_all, minlength=n)
        rank = np.arange(len(s_all)) - np.repeat(np.cumsum(counts) - counts, counts)
        keep = rank < pool_size[s_all]
        s_all, v_all = s_all[keep], v_all[keep]
        have_s, have_v = [s_all], [v_all]
        counts = np.bincount(s_all, minlength=n)
        todo = np.flatnonzero(counts < pool_size)
        factor *= 2
    if len(todo):
        raise RuntimeError(f"could not draw candidate pools for {len(todo)} sessions (catalogue too small)")
    return have_s[0], have_v[0]


@dataclass
class BigLog:
    """Shown views of big_matrix (before duplication) and the stored pools."""

    sess_user: np.ndarray
    sess_start: np.ndarray
    sess_len_planned: np.ndarray
    sess_len: np.ndarray
    view_sess: np.ndarray
    view_pos: np.ndarray
    view_video: np.ndarray
    view_d: np.ndarray
    view_ts: np.ndarray
    view_play: np.ndarray
    view_probs: np.ndarray
    pools: pa.Table
    pool_sessions_stored: int


def _simulate_big(world: World, spec: ScaleSpec, weights: np.ndarray, noise_scale: float,
                  rng: np.random.Generator) -> BigLog:
    sess_user, sess_len, sess_start = _plan_sessions(world, spec, rng)
    n_sess = len(sess_user)
    n_eligible = np.where(world.is_small_user[sess_user], world.n_videos - len(world.small_videos),
                          world.n_videos)
    pool_size = np.minimum(np.maximum(POOL_MIN, POOL_FACTOR * sess_len), n_eligible)
    sess_len = np.minimum(sess_len, pool_size)
    sess_hour = local_hour(sess_start)
    if spec.pool_sessions_stored is None or spec.pool_sessions_stored >= n_sess:
        stored = np.ones(n_sess, bool)
    else:
        stored = np.zeros(n_sess, bool)
        stored[rng.choice(n_sess, size=spec.pool_sessions_stored, replace=False)] = True
    log.info("big: %d sessions, %d planned views, mean pool %.1f", n_sess, sess_len.sum(), pool_size.mean())

    shown_s, shown_v, shown_pos = [], [], []
    pool_parts: list[tuple] = []
    chunk = 20_000
    for s0 in tqdm(range(0, n_sess, chunk), desc="sessions", mininterval=2, disable=n_sess <= chunk):
        idx = np.arange(s0, min(s0 + chunk, n_sess))
        cs, cv = _draw_pools(world, sess_user[idx], pool_size[idx], rng)
        cs_glob = idx[cs]
        u = sess_user[cs_glob]
        probs = head_probs(world, u, cv, sess_hour[cs_glob], world.dur[cv])
        score = probs @ weights + noise_scale * rng.gumbel(size=len(cv))
        span = 2.0 * np.abs(score).max() + 1.0
        order = np.argsort(cs * span - score)
        cs, cv, probs, cs_glob = cs[order], cv[order], probs[order], cs_glob[order]
        counts = np.bincount(cs, minlength=len(idx))
        rank = np.arange(len(cs)) - np.repeat(np.cumsum(counts) - counts, counts)
        is_shown = rank < sess_len[cs_glob]
        shown_s.append(cs_glob[is_shown])
        shown_v.append(cv[is_shown])
        shown_pos.append(rank[is_shown])
        st = stored[cs_glob]
        if st.any():
            pool_parts.append((cs_glob[st], cv[st], rank[st], probs[st].astype(np.float32)))
    view_sess = np.concatenate(shown_s)
    view_video = np.concatenate(shown_v).astype(np.int32)
    view_pos = np.concatenate(shown_pos)
    # rows: jittered duration, behaviour at the session's context, times within the session
    n = len(view_sess)
    jitter = np.where(rng.random(n) < 0.12, rng.integers(-3, 4, n), 0)
    view_d = np.maximum(world.dur[view_video] + jitter, DURATION_MIN_MS)
    view_user = sess_user[view_sess]
    probs, plays = _behave(world, view_user, view_video, sess_hour[view_sess], view_d, rng, desc="big views")
    gaps = 1000 + np.rint(rng.gamma(2.0, 1500.0, n)).astype(np.int64)
    incr = plays + gaps
    cs_incr = np.cumsum(incr)
    first = np.r_[0, np.flatnonzero(np.diff(view_sess)) + 1]
    seglen = np.diff(np.r_[first, n])
    offset = cs_incr - incr - np.repeat((cs_incr - incr)[first], seglen)
    view_ts = sess_start[view_sess] + offset
    # do not log views running into the user's next session
    next_start = np.r_[sess_start[1:], np.iinfo(np.int64).max // 2]
    same_user_next = np.r_[sess_user[1:] == sess_user[:-1], False]
    limit = np.where(same_user_next, next_start - SESSION_END_GAP_MS, np.iinfo(np.int64).max // 2)
    keep = view_ts <= limit[view_sess]
    actual_len = np.bincount(view_sess[keep], minlength=n_sess)
    if (~keep).any():
        log.info("big: %d views cut where a session ran into the next one", int((~keep).sum()))
    pools = _pools_table(pool_parts, sess_user, actual_len)
    return BigLog(sess_user, sess_start, sess_len, actual_len, view_sess[keep], view_pos[keep],
                  view_video[keep], view_d[keep], view_ts[keep], plays[keep], probs[keep], pools,
                  int(stored.sum()))


def _pools_table(parts, sess_user: np.ndarray, actual_len: np.ndarray) -> pa.Table:
    s = np.concatenate([p[0] for p in parts])
    v = np.concatenate([p[1] for p in parts])
    rank = np.concatenate([p[2] for p in parts])
    probs = np.concatenate([p[3] for p in parts])
    shown = rank < actual_len[s]
    cols = {
        "session_id": pa.array(s.astype(np.int64)),
        "user_id": pa.array(sess_user[s].astype(np.int32)),
        "video_id": pa.array(v.astype(np.int32)),
        "shown": pa.array(shown),
        "position": pa.array(np.where(shown, rank, -1).astype(np.int16)),
    }
    for j, c in enumerate(PROB_COLUMNS):
        cols[c] = pa.array(probs[:, j])
    return pa.table(cols)


# =================================================================================================
# small_matrix
# =================================================================================================
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


def _simulate_small(world: World, spec: ScaleSpec, rng: np.random.Generator) -> SmallLog:
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
    ts = _sample_times(np.arange(_day_index(SMALL_RANGE[0]), _day_index(SMALL_RANGE[1]) + 1), n, rng)
    order = np.lexsort((ts, user))
    user, video, ts = user[order], video[order], ts[order]
    jitter = np.where(rng.random(n) < 0.12, rng.integers(-3, 4, n), 0)
    d = np.maximum(world.dur[video] + jitter, DURATION_MIN_MS)
    probs, play = _behave(world, user, video, local_hour(ts), d, rng, desc="small views")
    has_time = rng.random(n) >= SMALL_MISSING_TIME
    return SmallLog(user, video, d, ts, has_time, play, probs)


# =================================================================================================
# fast CSV formatting
# =================================================================================================
_FRAC = pa.array(["." + (f"{i:03d}".rstrip("0") or "0") for i in range(1000)])
_HMS = pa.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)])


def _int_str(x: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())


def float_repr(x: np.ndarray) -> pa.Array:
    """Python repr() of float64 values as an Arrow string array (vectorised; checked by the tests)."""
    x = np.asarray(x, dtype=np.float64)
    s = pc.cast(pa.array(x), pa.string())
    # Arrow writes integral values without ".0"; repr() switches to exponent form below 1e-4
    has_point = pc.or_(pc.match_substring(s, "."), pc.match_substring(s, "e"))
    special = pc.or_(pc.match_substring(s, "n"), pc.match_substring(s, "i"))
    s = pc.if_else(pc.or_(has_point, special), s, pc.binary_join_element_wise(s, ".0", ""))
    small = (np.abs(x) < 1e-4) & (x != 0)
    if small.any():
        fixed = pa.array([repr(float(v)) for v in x[small]], pa.string())
        s = pc.replace_with_mask(s, pa.array(small), fixed)
    return s


def _time_strings(ts_ms: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(`time` local string, `timestamp` string, local day index) of UTC ms timestamps."""
    ts_ms = np.asarray(ts_ms, dtype=np.int64)
    local = ts_ms + LOCAL_OFFSET_MS
    day = (ts_ms - DAY0_UTC_MS) // MS_DAY
    ms = ts_ms % 1000
    uniq, inv = np.unique(day, return_inverse=True)
    day_str = pa.array(np.datetime_as_string(DAY0 + uniq.astype("timedelta64[D]")).tolist())
    frac = pc.take(_FRAC, pa.array(ms))
    t = pc.binary_join_element_wise(pc.take(day_str, pa.array(inv)),
                                    pc.take(_HMS, pa.array((local % MS_DAY) // 1000)), " ")
    t = pc.binary_join_element_wise(t, frac, "")
    stamp = pc.binary_join_element_wise(_int_str(ts_ms // 1000), frac, "")
    return t, stamp, day


def _write_lines(f, columns: list[pa.Array]) -> None:
    """Write rows (already formatted string columns, no quoting needed) as CSV lines to `f`."""
    line = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), pa.scalar("\n"), "")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32)[line.offset: line.offset + len(line) + 1]
    data = line.buffers()[2]
    f.write(memoryview(data)[offsets[0]: offsets[-1]])


def _write_interactions(path: Path, user, video, play, d, ts, has_time, date_override, small: bool,
                        chunk: int = 1_000_000) -> None:
    header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"
    n = len(user)
    with open(path, "wb") as f:
        f.write(header.encode())
        for s in tqdm(range(0, n, chunk), desc=path.name, mininterval=2, disable=n <= chunk):
            sl = slice(s, s + chunk)
            t, stamp, day = _time_strings(ts[sl])
            date = _day_to_yyyymmdd_cached(day)
            if date_override is not None:
                date = np.where(date_override[sl] != 0, date_override[sl], date)
            date_s = _int_str(date)
            if small:
                date_s = pc.binary_join_element_wise(date_s, ".0", "")
                ht = pa.array(has_time[sl])
                t = pc.if_else(ht, t, "")
                date_s = pc.if_else(ht, date_s, "")
                stamp = pc.if_else(ht, stamp, "")
            ratio = play[sl].astype(np.float64) / d[sl].astype(np.float64)
            _write_lines(f, [_int_str(user[sl]), _int_str(video[sl]), _int_str(play[sl]), _int_str(d[sl]),
                             t, date_s, stamp, float_repr(ratio)])


def _day_to_yyyymmdd_cached(day: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(day, return_inverse=True)
    return _day_to_yyyymmdd(uniq)[inv]


def _write_csv_rows(path: Path, header: list[str], rows) -> None:
    """Small files: the csv module (minimal quoting, \\n line ends), as pandas writes them."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _list_literal(xs) -> str:
    return "[" + ", ".join(str(int(x)) for x in xs) + "]"


# =================================================================================================
# side files
# =================================================================================================
def _range_label(x: np.ndarray, edges: list[float], labels: list[str]) -> list[str]:
    return [labels[i] for i in np.searchsorted(edges, x, side="left").tolist()]


USER_COLUMNS = (["user_id", "user_active_degree", "is_lowactive_period", "is_live_streamer",
                 "is_video_author", "follow_user_num", "follow_user_num_range", "fans_user_num",
                 "fans_user_num_range",
                 "friend_user_num", "friend_user_num_range", "register_days", "register_days_range"]
                + [f"onehot_feat{k}" for k in range(18)])
ONEHOT_MAX = (1, 7, 29, 1075, 11, 9, 2, 46, 339, 6, 4, 2, 1, 1, 1, 1, 1, 1)


def _user_rows(world: World, rng: np.random.Generator) -> list[list]:
    U = world.n_users
    q = np.argsort(np.argsort(world.act)) / max(U - 1, 1)
    degree = np.where(q >= 0.15, "full_active", np.where(q >= 0.05, "high_active", "middle_active"))
    degree = np.where(rng.random(U) < 0.01, "UNKNOWN", degree)
    live = (rng.random(U) < 0.03).astype(int)
    author = (rng.random(U) < 0.15).astype(int)
    follow = np.where(rng.random(U) < 0.05, 0, np.rint(np.exp(rng.normal(3.5, 1.4, U)))).astype(int)
    fans = np.where(rng.random(U) < 0.2, 0, np.rint(np.exp(rng.normal(1.5, 1.6, U)))).astype(int)
    fans = np.minimum(fans, 99_999)
    friend = np.where(rng.random(U) < 0.3, 0, np.rint(np.exp(rng.normal(1.6, 1.2, U)))).astype(int)
    reg = np.clip(np.rint(np.exp(rng.normal(6.0, 1.0, U))), 15, 3000).astype(int)
    follow_r = _range_label(follow, [0, 10, 50, 100, 150, 250, 500],
                            ["0", "(0,10]", "(10,50]", "(50,100]", "(100,150]", "(150,250]", "(250,500]",
                             "500+"])
    fans_r = _range_label(fans, [0, 9, 99, 999, 4999, 9999],
                          ["0", "[1,10)", "[10,100)", "[100,1k)", "[1k,5k)", "[5k,1w)", "[1w,10w)"])
    friend_r = _range_label(friend, [0, 4, 29, 59, 119, 249],
                            ["0", "[1,5)", "[5,30)", "[30,60)", "[60,120)", "[120,250)", "250+"])
    reg_r = _range_label(reg, [30, 60, 90, 180, 365, 730],
                         ["15-30", "31-60", "61-90", "91-180", "181-365", "366-730", "730+"])
    onehot = np.empty((U, 18), dtype=object)
    for k, mx in enumerate(ONEHOT_MAX):
        if k == 1:
            vals = world.ucat
        else:
            p = 1.0 / np.arange(1, mx + 2) ** 1.1
            vals = rng.choice(mx + 1, size=U, p=p / p.sum())
        col = vals.astype(object)
        miss_rate = 201 / 7176 if k == 4 else (75 / 7176 if k >= 12 else 0.0)
        if miss_rate:
            col[rng.random(U) < miss_rate] = ""
        onehot[:, k] = col
    rows = []
    for i in range(U):
        rows.append([i, degree[i], int(world.lowactive[i]), live[i], author[i], follow[i], follow_r[i],
                     fans[i], fans_r[i], friend[i], friend_r[i], reg[i], reg_r[i], *onehot[i].tolist()])
    return rows


def _caption_rows(world: World, rng: np.random.Generator) -> list[str]:
    """Lines of kuairec_caption_category.csv (hand-written: 4 captions hold a bare, unquoted \\r)."""
    V = world.n_videos
    words = np.array(WORDS)
    cr_rows = set(rng.choice(np.flatnonzero(rng.random(V) < 2), size=min(4, V), replace=False).tolist())
    lines = []

    def q(field: str) -> str:
        needs = "," in field or '"' in field or "\n" in field
        return '"' + field.replace('"', '""') + '"' if needs else field

    for v in range(V):
        main = world.tags[v][0]
        cover = "UNKNOWN" if rng.random() < 0.6 else "".join(rng.choice(words, size=rng.integers(2, 5)))
        if rng.random() < 0.126:
            caption = ""
        else:
            caption = "".join(rng.choice(words, size=rng.integers(2, 8)))
            if rng.random() < 0.3:
                caption += "#" + TAG_NAMES[main]
            if v in cr_rows:
                caption = caption + "\r" + "".join(rng.choice(words, size=2))
        n_topic = rng.choice([0, 1, 2, 3], p=[0.4, 0.3, 0.2, 0.1])
        topic = "[" + ",".join(rng.choice(words, size=n_topic, replace=False).tolist()) + "]"
        cats = []
        missing_lvl = rng.choice([0, 1, 2, 3], p=[0.03, 0.05, 0.22, 0.70])  # levels present
        ids = [main + 1, 100 + main * 4 + int(rng.integers(0, 4)),
               1000 + main * 16 + int(rng.integers(0, 16))]
        for lvl in range(3):
            if lvl < missing_lvl:
                suffix = ("", "类", f"其他{ids[2] % 16}")[lvl]
                name = TAG_NAMES[main] + suffix
                cats += [str(ids[lvl]), name]
            else:
                cats += ["-124", "UNKNOWN"]
        fields = [str(v), q(cover), q(caption), q(topic), *cats]
        lines.append(",".join(fields))
    return lines


# The 58 columns of item_daily_features.csv, in the release's order (the ingest contract).
ITEM_DAILY_COLUMNS = list(TABLE_COLUMNS["item_daily_features"])
COLLECT_FROM = "2020-07-18"  # the four collect_* columns are empty before this date


def platform_rates(world: World, rng: np.random.Generator, n_ref: int = 32) -> dict[str, np.ndarray]:
    """Per video, the platform-wide true rates under the official play definitions (KUAIREC.md),
    averaged over `n_ref` random users at random hours: what the daily statistics are drawn from."""
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


def _item_daily(world: World, rng: np.random.Generator) -> list[pa.Array]:
    V = world.n_videos
    rates = platform_rates(world, rng)
    days = np.arange(_day_index(SMALL_RANGE[0]), _day_index(SMALL_RANGE[1]) + 1)
    # a row exists on days with platform activity; more popular videos have more rows (~32 / 63 on average)
    pop_rank = np.argsort(np.argsort(world.pop)) / max(V - 1, 1)
    p_row = np.clip(0.18 + 0.66 * pop_rank, 0.02, 1.0)
    present = rng.random((V, len(days))) < p_row[:, None]
    present[np.arange(V), rng.integers(0, len(days), V)] = True
    vv, dd = np.nonzero(present)
    n = len(vv)
    date = _day_to_yyyymmdd(days[dd])
    # static per video
    author = rng.integers(0, max(V // 3, 1), V) * 7 + 11
    vtype = np.where(rng.random(V) < 0.03, "AD", "NORMAL")
    upload_day = -np.rint(np.exp(rng.normal(3.0, 1.2, V))).astype(int) - 1
    upload_dt = np.datetime_as_string(DAY0 + upload_day.astype("timedelta64[D]"))
    utype = rng.choice(["ShortImport", "LongImport", "ShortCamera", "LongCamera", "Web", "PictureSet"],
                       size=V, p=[0.5, 0.2, 0.15, 0.08, 0.04, 0.03])
    width = rng.choice([720, 1080, 540, 576], size=V, p=[0.6, 0.25, 0.1, 0.05])
    height = np.where(rng.random(V) < 0.85, (width * 16) // 9, width)
    music = rng.integers(1, 5_000_000, V)
    main_tag = np.array([t[0] for t in world.tags])
    tag_id = 100 + main_tag * 37
    tag_name = np.array(TAG_NAMES)[main_tag]
    # daily counts: platform-level shows ~ popularity x daily factor, outcomes ~ the video's true rates
    day_factor = np.exp(rng.normal(0, 0.25, len(days)))[dd]
    lam = 3000.0 * world.pop[vv] * V * day_factor * rng.gamma(5.0, 0.2, n)
    show = rng.poisson(lam)
    show_user = rng.binomial(show, 0.93)
    play_rate = 1 / (1 + np.exp(-(0.6 + 0.5 * world.quality[vv])))
    play = rng.binomial(show, play_rate)
    play_user = rng.binomial(play, 0.92)
    play_dur = np.rint(play * rates["mean_play"][vv] * np.exp(rng.normal(0, 0.05, n))).astype(np.int64)

    def outcome(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = rng.binomial(play, np.clip(rate[vv], 0, 1))
        return c, rng.binomial(c, 0.95)

    comp, comp_u = outcome(rates["complete"])
    valid, valid_u = outcome(rates["valid"])
    long_, long_u = outcome(rates["long"])
    short, short_u = outcome(rates["short"])
    progress = np.clip(rates["progress"][vv] + rng.normal(0, 0.01, n), 0, 1)
    like_rate = 0.03 * np.exp(0.5 * world.quality[vv])
    like = rng.binomial(play, np.clip(like_rate, 0, 0.5))
    like_u = rng.binomial(like, 0.98)
    dbl = rng.binomial(like, 0.7)
    click = like - dbl
    cancel_like = rng.binomial(like, 0.02)
    cancel_like_u = rng.binomial(cancel_like, 0.95)
    comment = rng.binomial(play, np.clip(0.004 * np.exp(0.4 * world.quality[vv]), 0, 0.2))
    comment_u = rng.binomial(comment, 0.8)
    reply = rng.binomial(comment, 0.3)
    direct = comment - reply
    del_c = rng.binomial(comment, 0.01)
    del_cu = rng.binomial(del_c, 0.9)
    c_like = rng.binomial(play, 0.01)
    c_like_u = rng.binomial(c_like, 0.9)
    stay = np.rint(comment * rng.gamma(2.0, 8000.0, n)).astype(np.int64)
    follow = rng.binomial(play, 0.002)
    follow_u = rng.binomial(follow, 0.98)
    c_follow = rng.binomial(follow, 0.05)
    c_follow_u = c_follow
    share = rng.binomial(play, np.clip(0.002 * np.exp(0.4 * world.quality[vv]), 0, 0.1))
    share_u = rng.binomial(share, 0.9)
    dl = rng.binomial(play, 0.001)
    dl_u = rng.binomial(dl, 0.95)
    report = rng.binomial(play, 0.0002)
    report_u = report
    reduce = rng.binomial(play, np.clip(0.002 * np.exp(-0.5 * world.quality[vv]), 0, 0.1))
    reduce_u = rng.binomial(reduce, 0.97)
    collect = rng.binomial(play, 0.002)
    collect_u = rng.binomial(collect, 0.98)
    c_collect = rng.binomial(collect, 0.03)
    c_collect_u = c_collect
    visible = np.where(rng.random(n) < 0.01, "private", np.where(rng.random(n) < 0.003, "only friends",
                                                                  "public"))
    vdur_missing = rng.random(n) < 0.031
    tag_missing = rng.random(n) < 0.094
    collect_missing = date < int(COLLECT_FROM.replace("-", ""))

    def s(x) -> pa.Array:
        return pc.cast(pa.array(np.asarray(x)), pa.string())

    def opt(col: pa.Array, missing: np.ndarray) -> pa.Array:
        return pc.if_else(pa.array(missing), "", col)

    cols = [
        s(vv), s(date), s(author[vv]), s(vtype[vv]), s(upload_dt[vv]), s(utype[vv]), s(visible),
        opt(float_repr(world.dur[vv].astype(np.float64)), vdur_missing), s(width[vv]), s(height[vv]),
        s(music[vv]), s(tag_id[vv]), opt(s(tag_name[vv]), tag_missing),
        s(show), s(show_user), s(play), s(play_user), s(play_dur), s(comp), s(comp_u), s(valid), s(valid_u),
        s(long_), s(long_u), s(short), s(short_u), float_repr(np.round(progress, 4)), s(stay),
        s(like), s(like_u), s(click), s(dbl), s(cancel_like), s(cancel_like_u),
        s(comment), s(comment_u), s(direct), s(reply), s(del_c), s(del_cu), s(c_like), s(c_like_u),
        s(follow), s(follow_u), s(c_follow), s(c_follow_u), s(share), s(share_u), s(dl), s(dl_u),
        s(report), s(report_u), s(reduce), s(reduce_u),
        opt(s(collect), collect_missing), opt(s(collect_u), collect_missing),
        opt(s(c_collect), collect_missing), opt(s(c_collect_u), collect_missing),
    ]
    assert len(cols) == len(ITEM_DAILY_COLUMNS) == 58
    return cols


def _social_rows(world: World, spec: ScaleSpec, rng: np.random.Generator) -> list[list]:
    users = np.sort(rng.choice(world.n_users, size=min(spec.n_social, world.n_users), replace=False))
    rows = []
    for u in users.tolist():
        k = int(min(1 + rng.geometric(0.6) - 1, 10)) or 1
        friends = sorted(set(rng.integers(0, world.n_users, k).tolist()) - {u}) or [(u + 1) % world.n_users]
        rows.append([u, _list_literal(rng.permutation(friends))])
    return rows


# =================================================================================================
# entry point
# =================================================================================================
def _as_weight_vector(value_weights: dict) -> np.ndarray:
    missing = [h for h in HEADS if h not in value_weights]
    extra = [k for k in value_weights if k not in HEADS]
    if missing or extra:
        raise ValueError(f"value_weights must have exactly the keys {list(HEADS)}; missing {missing}, "
                         f"unexpected {extra}")
    return np.array([float(value_weights[h]) for h in HEADS])


def generate(root: Path, scale: str, seed: int, value_weights: dict, noise_scale: float) -> None:
    """Write a synthetic KuaiRec 2.0 to root/"KuaiRec 2.0/data" (7 CSVs) and root/"truth" (planted truth).

    Deterministic: the same arguments give byte-identical files. Atomic: everything is written into a
    temporary folder under `root` and renamed into place at the end.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}; found {scale!r}")
    if not noise_scale > 0:
        raise ValueError(f"noise_scale must be > 0; found {noise_scale!r}")
    weights = _as_weight_vector(value_weights)
    spec = SCALES[scale]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ss = np.random.SeedSequence(seed)
    r_world, r_big, r_small, r_dup, r_users, r_items, r_text, r_social = (np.random.default_rng(s)
                                                                         for s in ss.spawn(8))
    world = _make_world(spec, r_world)
    big = _simulate_big(world, spec, weights, noise_scale, r_big)
    small = _simulate_small(world, spec, r_small)

    tmp = Path(tempfile.mkdtemp(prefix=".synthesize-", dir=root))
    try:
        data = tmp / RAW_SUBDIR
        truth = tmp / "truth"
        data.mkdir(parents=True)
        truth.mkdir()
        sizes, big_stats = _write_big(data / "big_matrix.csv", truth / TRUTH_BIG, big, r_dup)
        small_stats = interaction_stats(small.play, small.d, small.probs)
        small_stats["missing_time"] = round(float(1 - small.has_time.mean()), 4)
        log.info("big_matrix: %s", json.dumps(big_stats))
        log.info("small_matrix: %s", json.dumps(small_stats))
        _write_interactions(data / "small_matrix.csv", small.user, small.video, small.play, small.d, small.ts,
                            small.has_time, None, small=True)
        _write_probs(truth / TRUTH_SMALL,
                     {"user_id": pa.array(small.user), "video_id": pa.array(small.video)}, small.probs)
        pq.write_table(big.pools, truth / TRUTH_POOLS)
        _write_csv_rows(data / "social_network.csv", ["user_id", "friend_list"], _social_rows(world, spec,
                                                                                               r_social))
        _write_csv_rows(data / "user_features.csv", USER_COLUMNS, _user_rows(world, r_users))
        _write_csv_rows(data / "item_categories.csv", ["video_id", "feat"],
                        [[v, _list_literal(t)] for v, t in enumerate(world.tags)])
        with open(data / "item_daily_features.csv", "wb") as f:
            f.write((",".join(ITEM_DAILY_COLUMNS) + "\n").encode())
            _write_lines(f, _item_daily(world, r_items))
        caption_header = ("video_id,manual_cover_text,caption,topic_tag,first_level_category_id,"
                          "first_level_category_name,second_level_category_id,second_level_category_name,"
                          "third_level_category_id,third_level_category_name")
        with open(data / "kuairec_caption_category.csv", "w", encoding="utf-8", newline="") as f:
            f.write(caption_header + "\n" + "\n".join(_caption_rows(world, r_text)) + "\n")
        truth_json = _truth_json(spec, scale, seed, value_weights, noise_scale, world, big, small, sizes)
        truth_json["stats"] = {"big_matrix": big_stats, "small_matrix": small_stats}
        (truth / TRUTH_JSON).write_text(json.dumps(truth_json, indent=2) + "\n", encoding="utf-8")
        # move into place
        for rel in (RAW_SUBDIR, "truth"):
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp / rel, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("synthetic %s written to %s in %.1f s", scale, root, time.perf_counter() - t0)


def _write_probs(path: Path, cols: dict, probs: np.ndarray) -> None:
    cols = dict(cols)
    for j, c in enumerate(PROB_COLUMNS):
        cols[c] = pa.array(probs[:, j].astype(np.float32))
    pq.write_table(pa.table(cols), path)


def _write_big(csv_path: Path, probs_path: Path, big: BigLog, rng: np.random.Generator) -> dict:
    n = len(big.view_sess)
    user = big.sess_user[big.view_sess]
    # date label disagreeing with the local date on ~0.12% of rows (the partition lags by a day)
    day = _local_day(big.view_ts)
    mismatch = rng.random(n) < DATE_MISMATCH_RATE
    override = np.where(mismatch, _day_to_yyyymmdd(np.where(rng.random(n) < 0.5, day - 1, day + 1)), 0)
    # exact duplicates, immediately after their original
    reps = 1 + (rng.random(n) < DUP_RATE)
    idx = np.repeat(np.arange(n), reps)
    _write_interactions(csv_path, user[idx], big.view_video[idx], big.view_play[idx], big.view_d[idx],
                        big.view_ts[idx], None, override[idx], small=False)
    _write_probs(probs_path, {"csv_row": pa.array(np.arange(len(idx), dtype=np.int64)),
                              "user_id": pa.array(user[idx].astype(np.int32)),
                              "video_id": pa.array(big.view_video[idx]),
                              "session_id": pa.array(big.view_sess[idx].astype(np.int64))},
                 big.view_probs[idx])
    sizes = {"big_rows": int(len(idx)), "big_views": int(n), "big_duplicates": int(len(idx) - n)}
    stats = interaction_stats(big.view_play[idx], big.view_d[idx], big.view_probs[idx])
    stats["duplicate_rows"] = round(sizes["big_duplicates"] / sizes["big_rows"], 4)
    return sizes, stats


def interaction_stats(play: np.ndarray, d: np.ndarray, probs: np.ndarray) -> dict:
    """Distribution summary of views: watch_ratio buckets (as in KUAIREC.md), medians, head rates."""
    r = play / d
    out = {
        "rows": int(len(play)),
        "median_video_duration_s": float(np.median(d) / 1000),
        "median_play_duration_s": float(np.median(play) / 1000),
        "median_watch_ratio": float(np.median(r)),
        "watch_ratio_buckets": {
            "<0.25": float(np.mean(r < 0.25)), "0.25-0.5": float(np.mean((r >= 0.25) & (r < 0.5))),
            "0.5-1": float(np.mean((r >= 0.5) & (r < 1))), "1-2": float(np.mean((r >= 1) & (r <= 2))),
            ">2": float(np.mean(r > 2)), ">5": float(np.mean(r > 5)),
        },
        "mean_true_prob": {c: float(probs[:, j].mean()) for j, c in enumerate(PROB_COLUMNS)},
    }
    out["watch_ratio_buckets"] = {k: round(v, 4) for k, v in out["watch_ratio_buckets"].items()}
    return out


def _truth_json(spec: ScaleSpec, scale: str, seed: int, value_weights: dict, noise_scale: float,
                world: World, big: BigLog, small: SmallLog, sizes: dict) -> dict:
    n_sess = len(big.sess_user)
    return {
        "generator_version": GENERATOR_VERSION,
        "scale": scale,
        "seed": int(seed),
        "value_weights": {h: float(value_weights[h]) for h in HEADS},
        "noise_scale": float(noise_scale),
        "label_thresholds": dict(LABEL_THRESHOLDS),
        "heads": list(HEADS),
        "prob_columns": list(PROB_COLUMNS),
        "policy": {
            "score": "sum_k value_weights[k] * p_k(u, v, session start) + noise_scale * Gumbel(0, 1); "
                     "the top L candidates are shown in rank order (Plackett-Luce with utilities "
                     "w.p / noise_scale)",
            "pool_size": f"min(max({POOL_MIN}, {POOL_FACTOR} * L), eligible videos), L = planned length",
            "pool_draw": "videos drawn with replacement with probability proportional to popularity; "
                         "repeats and excluded videos dropped; the first pool_size distinct kept",
            "pool_excludes": "small-block videos for small-block users (no small pair appears in big)",
            "pool_probs": "p at the session start hour with the video's base duration (rows use the "
                          "row's jittered video_duration)",
        },
        "sessions": {
            "length": f"min(1 + floor(lognormal(log {np.exp(SESSION_LOG_MEDIAN):.0f}, "
                      f"{SESSION_LOG_SIGMA})), {SESSION_MAX})",
            "start": "a day in the three big windows, hour from an evening-peaked profile; "
                     f"fraction {STRAY_SESSION_RATE} anywhere in {STRAY_RANGE[0]}..{STRAY_RANGE[1]}",
            "min_start_gap_minutes": SESSION_MIN_START_GAP_MS / 60_000,
            "end_gap_minutes": SESSION_END_GAP_MS / 60_000,
            "truncation": "views that would start later than end_gap_minutes before the user's next "
                          "session are not logged: the shown list is then a prefix of the ranking",
            "view_gap": "next view starts play_duration + 1 s + Gamma(2, 1.5 s) after the previous",
            "context": "the behaviour of every view in a session uses the local hour of the session start",
            "n_sessions": int(n_sess),
            "n_logged_views": int(big.sess_len.sum()),
        },
        "pools": {
            "stored_sessions": int(big.pool_sessions_stored),
            "all_sessions_stored": bool(big.pool_sessions_stored == n_sess),
            "selection": "all sessions" if big.pool_sessions_stored == n_sess
            else "uniform random subset of sessions (generator rng)",
        },
        "behaviour": {
            "skip": {"median_ms": SKIP_MEDIAN_MS, "sigma": SKIP_SIGMA, "zero_prob": SKIP_ZERO},
            "watch": {"median_ms_at_ref": WATCH_MEDIAN_MS, "sigma": WATCH_SIGMA,
                      "duration_slope": WATCH_DURATION_SLOPE, "ref_duration_ms": REF_DURATION_MS},
            "loop": {"lomax_shape": LOOP_SHAPE, "lomax_scale_at_ref": LOOP_SCALE,
                     "lomax_scale_duration_power": -LOOP_DURATION_POWER},
            "latent_dim": LATENT_DIM,
            "latent_affinity_std": {"skip_logit": AFF_STD[0], "watch_log_mean": AFF_STD[1],
                                    "loop_logit": AFF_STD[2]},
            "small_block": "videos drawn without replacement with prob ~ popularity ** "
                           f"{SMALL_VIDEO_POP_POWER}"
                           f" * (d / {REF_DURATION_MS:.0f} ms) ** {-SMALL_VIDEO_SHORT}; users with prob ~ "
                           f"exp({SMALL_USER_ACT} * activity) (the release's small block: popular videos, "
                           "active users)",
            "play_rounding": "floor",
        },
        "sizes": {
            "n_users": spec.n_users, "n_videos": spec.n_videos,
            "n_small_users": spec.n_small_users, "n_small_videos": spec.n_small_videos,
            "small_rows": int(len(small.user)), **sizes,
        },
        "small_users": world.small_users.tolist() if spec.n_small_users <= 2000 else None,
        "item_daily": "daily counts drawn from each video's platform-wide true rates (official play "
                      "definitions) and popularity; all uploads precede 2020-07-05",
        "spec": asdict(spec),
    }

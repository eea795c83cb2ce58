"""The logging policy of big_matrix: sessions, candidate pools, ranking, and the views it logs.

Each user has sessions; a session with planned length L draws a candidate pool of
max(POOL_MIN, POOL_FACTOR * L) distinct videos (popularity-tilted, small-block videos excluded for
small-block users), scores each by w* . p(u, v, session start) + noise_scale * Gumbel and shows the
top L in rank order (a Plackett-Luce draw with utilities w* . p / noise_scale). `simulate_big` returns
the shown views (before the duplicates the writer adds) and the stored pools (truth/pools.parquet).
See (docs/data.md, "The synthetic world").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from vmrec.contracts import PROB_COLUMNS
from vmrec.synthetic.behaviour import behave, head_probs
from vmrec.synthetic.clock import BIG_WINDOWS, STRAY_RANGE, local_hour, sample_times, window_days
from vmrec.synthetic.propensity import list_inclusion, pool_inclusion
from vmrec.synthetic.world import DURATION_MIN_MS, ScaleSpec, World, sample_alias

log = logging.getLogger("vmrec.synthetic")

DUP_RATE = 0.0834  # duplicates per view -> 7.7% of big rows
STRAY_SESSION_RATE = 0.0005
POOL_MIN = 50
POOL_FACTOR = 2
SESSION_LOG_MEDIAN = np.log(13.0)
SESSION_LOG_SIGMA = 0.8
SESSION_MAX = 200
SESSION_MIN_START_GAP_MS = 45 * 60_000  # between starts of consecutive sessions of a user
SESSION_END_GAP_MS = 40 * 60_000  # views closer than this to the next session start are not logged


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
    start = sample_times(window_days(BIG_WINDOWS), n_sess, rng)
    stray = rng.random(n_sess) < STRAY_SESSION_RATE
    if stray.any():
        start[stray] = sample_times(window_days((STRAY_RANGE,)), int(stray.sum()), rng)
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
        v = sample_alias(world.pop_alias, len(s), rng)
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
    view_p_list: np.ndarray | None = None  # planted P(ranked into the top L | in the pool) per view
    view_p_pool: np.ndarray | None = None  # planted P(in the pool) per view (NaN where not computed)


def plan_pools(world: World, spec: ScaleSpec, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per session (drawn in this order): user, list length, start (UTC ms), pool size (max(POOL_MIN,
    POOL_FACTOR x length), at most the eligible videos; the length at most the pool), start hour, and
    whether its pool is stored in truth/ (a random subset where the scale stores only some)."""
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
    return sess_user, sess_len, sess_start, pool_size, sess_hour, stored


def popularity_pool_inclusion(world: World, sess_user: np.ndarray, pool_size: np.ndarray, cs: np.ndarray,
                              cv: np.ndarray, cache: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Planted P(in the pool) of candidates (cs: session index, cv: video) of popularity-drawn pools
    (`_draw_pools`; propensity.pool_inclusion per pool size and user kind, each computed once per `cache`:
    pass the same dict for every chunk of sessions)."""
    cache = {} if cache is None else cache
    out = np.empty(len(cs))
    small_user = world.is_small_user[sess_user[cs]]
    key = pool_size[cs].astype(np.int64) * 2 + small_user
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        if k not in cache:
            q = np.where(world.is_small_video, 0.0, world.pop) if k % 2 else world.pop
            cache[k] = pool_inclusion(q, int(k // 2))
        out[rows] = cache[k][cv[rows]]
    return out


def simulate_big(world: World, spec: ScaleSpec, weights: np.ndarray, noise_scale: float,
                  rng: np.random.Generator, prop_rng: np.random.Generator | None = None) -> BigLog:
    """The policy's sessions; with `prop_rng`, also the planted propensities (synthetic.propensity, Monte
    Carlo draws from `prop_rng` only: the logged data do not depend on it)."""
    sess_user, sess_len, sess_start, pool_size, sess_hour, stored = plan_pools(world, spec, rng)
    n_sess = len(sess_user)
    log.info("big: %d sessions, %d planned views, mean pool %.1f", n_sess, sess_len.sum(), pool_size.mean())

    shown_s, shown_v, shown_pos, shown_pl, shown_pp = [], [], [], [], []
    inclusion: dict[int, np.ndarray] = {}  # P(in the pool) per (pool size, user kind), across chunks
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
        p_list = p_pool = np.full(len(cs), np.nan)
        if prop_rng is not None:
            p_list = list_inclusion(cs, probs @ weights / noise_scale, sess_len[cs_glob], is_shown,
                                    spec.propensity_draws, prop_rng)
            p_pool = popularity_pool_inclusion(world, sess_user, pool_size, cs_glob, cv, inclusion)
        shown_s.append(cs_glob[is_shown])
        shown_v.append(cv[is_shown])
        shown_pos.append(rank[is_shown])
        shown_pl.append(p_list[is_shown])
        shown_pp.append(p_pool[is_shown])
        st = stored[cs_glob]
        if st.any():
            pool_parts.append((cs_glob[st], cv[st], rank[st], probs[st].astype(np.float32), p_list[st],
                               p_pool[st]))
    view_sess = np.concatenate(shown_s)
    view_video = np.concatenate(shown_v).astype(np.int32)
    view_pos = np.concatenate(shown_pos)
    view_pl, view_pp = np.concatenate(shown_pl), np.concatenate(shown_pp)
    # rows: jittered duration, behaviour at the session's context, times within the session
    n = len(view_sess)
    jitter = np.where(rng.random(n) < 0.12, rng.integers(-3, 4, n), 0)
    view_d = np.maximum(world.dur[view_video] + jitter, DURATION_MIN_MS)
    view_user = sess_user[view_sess]
    probs, plays = behave(world, view_user, view_video, sess_hour[view_sess], view_d, rng, desc="big views")
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
                  int(stored.sum()), view_pl[keep], view_pp[keep])


def _pools_table(parts, sess_user: np.ndarray, actual_len: np.ndarray) -> pa.Table:
    s = np.concatenate([p[0] for p in parts])
    v = np.concatenate([p[1] for p in parts])
    rank = np.concatenate([p[2] for p in parts])
    probs = np.concatenate([p[3] for p in parts])
    p_list = np.concatenate([p[4] for p in parts])
    p_pool = np.concatenate([p[5] for p in parts])
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
    if not np.isnan(p_list).all():
        cols.update(propensity_columns(p_pool, p_list))
    return pa.table(cols)


def propensity_columns(p_pool: np.ndarray, p_list: np.ndarray) -> dict[str, pa.Array]:
    """contracts.PROPENSITY_COLUMNS as float32 arrays: p_pool, p_list and propensity = their product
    (null where p_pool was not computed)."""
    pp = pa.array(p_pool.astype(np.float32), from_pandas=True)
    prop = pa.array((p_pool * p_list).astype(np.float32), from_pandas=True)
    return {"p_pool": pp, "p_list": pa.array(p_list.astype(np.float32)), "propensity": prop}

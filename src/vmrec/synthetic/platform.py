"""The platform world (`synthetic.world: platform`): the simple world made as hard as a real platform.

On top of the simple world's users, videos and behaviour model (same streams, so the same users and
videos for a seed) it adds, from a stream of its own:

  nonlinear affinity   a user x tag preference through tanh, modulated by a user's duration taste, on
                       all three behaviour logits (`PlatformWorld.extra_offsets`): no model family is
                       exactly specified;
  position, fatigue    a view's skip logit rises and its watch length falls with its list position and
                       with the minutes already spent in the session (`context_offsets`); each view's
                       hour is its own (the hour moves on within a session);
  platform heads       the logging policy ranks with its own model: the true logits of each head at the
                       session start plus a low-rank user x video error and a per-video bias
                       (`platform_probs`), written to truth/ (contracts.TRUTH_PLATFORM_POOLS);
  retrieval            each session's pool is drawn without replacement with probability ~ exp(retrieval
                       score), the score mixing a noisy user x video affinity, log popularity and the
                       video's recency (`_retrieve_pools`);
  item daily stats     counted over the logged views (big and small) under the release's play
                       definitions, scaled to the platform and noised (`item_daily_columns`).

The "true heads" of a pool candidate are the probabilities at the session start without position or
fatigue (`head_probs` without an offset, what value_model.scoring.truth_scorer rebuilds); a big row's
true probabilities (TRUTH_BIG) are those of the view itself: its position, its minutes into the
session, its own hour. See (docs/data.md, "The synthetic world").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.special import expit, logit

from vmrec.contracts import N_TAGS, PLATFORM_PROB_COLUMNS
from vmrec.synthetic.behaviour import _head_probs_from, _mixture, _sample_play, head_probs
from vmrec.synthetic.clock import SMALL_RANGE, day_index, day_to_yyyymmdd, local_day, local_hour
from vmrec.synthetic.parallel import Float32Stream, ordered_map
from vmrec.synthetic.policy import (
    SESSION_END_GAP_MS,
    BigLog,
    _pools_table,
    plan_pools,
)
from vmrec.synthetic.propensity import list_inclusion
from vmrec.synthetic.world import DURATION_MIN_MS, REF_DURATION_MS, ScaleSpec, World

log = logging.getLogger("vmrec.synthetic")

# nonlinear affinity: g = tanh(NL_GAIN * u_tag . tags(v)) * (1 + NL_DUR * tanh(dpref_u * x))
NL_RANK = 4
NL_GAIN = 1.5
NL_DUR = 0.6
NL_EFF = (-0.5, 0.2, 0.45)  # effect of g on (skip logit, watch log-mean, loop logit)
# calibration: keeps the release's marginals with the extra effects (fitted at small: big's watch-ratio
# buckets within 0.03 of the release; tiny, whose pools cover 1/8 of the catalogue, within 0.04)
SKIP_SHIFT, MU_SHIFT, LOOP_SHIFT = -0.27, 0.0, -0.55
# position and fatigue: per log1p(position) and per log1p(minutes into the session)
POS_EFF = (0.10, -0.03, -0.02)
FATIGUE_EFF = (0.08, -0.02, -0.02)
# the platform's own heads: logit q = logit p + (E_u . E_v)_head + b_v,head
HEAD_ERR_RANK = 4
HEAD_ERR_STD = 1.0  # std of the low-rank part (per head)
HEAD_BIAS_STD = 0.5  # std of the per-video bias (per head)
# retrieval: score = RET_AFF * a(u, v) + RET_POP * log pop(v) + RET_RECENCY * -log1p(age days)
RET_AFF, RET_POP, RET_RECENCY = 0.5, 1.3, 0.5
RET_ERR_RANK, RET_ERR_STD = 4, 0.6  # the retrieval model's own error on the affinity
PROB_CHUNK = 1 << 18  # pool rows per task of `pool_probs`
# item daily statistics: platform counts = PLATFORM_FACTOR * logged counts * lognormal(DAILY_NOISE) +
# Poisson background of BACKGROUND_SHOWS * popularity * V shows at the video's logged rates
PLATFORM_FACTOR = 50.0
DAILY_NOISE = 0.15
BACKGROUND_SHOWS = 20.0


@dataclass
class PlatformWorld(World):
    """The simple world plus the platform world's parameters."""

    u_tag: np.ndarray = None  # (U, NL_RANK)
    v_tag: np.ndarray = None  # (V, NL_RANK) mean of the video's tag embeddings
    u_dpref: np.ndarray = None  # (U,)
    err_u: np.ndarray = None  # (U, HEAD_ERR_RANK)
    err_v: np.ndarray = None  # (V, HEAD_ERR_RANK, 4)
    err_b: np.ndarray = None  # (V, 4)
    ret_u: np.ndarray = None  # (U, RET_ERR_RANK)
    ret_v: np.ndarray = None  # (V, RET_ERR_RANK)
    upload_day: np.ndarray = None  # (V,) local day index (< 0: before 2020-07-05)

    def nonlinear(self, u: np.ndarray, v: np.ndarray, x: np.ndarray) -> np.ndarray:
        s = np.einsum("nk,nk->n", self.u_tag[u], self.v_tag[v])
        return np.tanh(NL_GAIN * s) * (1.0 + NL_DUR * np.tanh(self.u_dpref[u] * x))

    def extra_offsets(self, u, v, x) -> np.ndarray:
        g = self.nonlinear(u, v, x)
        return np.stack([SKIP_SHIFT + NL_EFF[0] * g, MU_SHIFT + NL_EFF[1] * g, LOOP_SHIFT + NL_EFF[2] * g],
                        axis=1)


def build_platform_world(base: World, spec: ScaleSpec, rng: np.random.Generator) -> PlatformWorld:
    U, V = base.n_users, base.n_videos
    tag_emb = rng.standard_normal((N_TAGS, NL_RANK))
    v_tag = np.array([tag_emb[t].mean(axis=0) for t in base.tags])
    u_tag = rng.standard_normal((U, NL_RANK)) / np.sqrt(NL_RANK)
    u_dpref = rng.normal(0.0, 1.5, U)
    err_u = rng.standard_normal((U, HEAD_ERR_RANK))
    err_v = rng.standard_normal((V, HEAD_ERR_RANK, 4)) * HEAD_ERR_STD / np.sqrt(HEAD_ERR_RANK)
    err_b = rng.normal(0.0, HEAD_BIAS_STD, (V, 4))
    ret_u = rng.standard_normal((U, RET_ERR_RANK))
    ret_v = rng.standard_normal((V, RET_ERR_RANK)) * RET_ERR_STD / np.sqrt(RET_ERR_RANK)
    upload_day = -np.rint(np.exp(rng.normal(3.0, 1.2, V))).astype(np.int64) - 1
    return PlatformWorld(**vars(base), u_tag=u_tag, v_tag=v_tag, u_dpref=u_dpref, err_u=err_u, err_v=err_v,
                         err_b=err_b, ret_u=ret_u, ret_v=ret_v, upload_day=upload_day)


def context_offsets(position: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """Offsets (n, 3) on (l_s, mu, l_l) of a view at 0-based list `position`, `minutes` into its session."""
    a = np.log1p(np.asarray(position, dtype=np.float64))[:, None]
    b = np.log1p(np.maximum(np.asarray(minutes, dtype=np.float64), 0.0))[:, None]
    return a * np.array(POS_EFF) + b * np.array(FATIGUE_EFF)


def platform_probs(world: PlatformWorld, u: np.ndarray, v: np.ndarray, true_probs: np.ndarray) -> np.ndarray:
    """(n, 4) the platform's own head probabilities: the true logits plus its structured error."""
    err = np.einsum("nk,nkh->nh", world.err_u[u], world.err_v[v]) + world.err_b[v]
    return expit(logit(np.clip(true_probs, 1e-6, 1 - 1e-6)) + err)


def retrieval_affinity(world: PlatformWorld, u: np.ndarray) -> np.ndarray:
    """(len(u), V) the retrieval model's user x video affinity: the true value-direction affinity
    (-skip + watch + loop latents, nonlinear part included) plus the retrieval model's own error."""
    ul, vl = world.u_lat[u], world.v_lat  # (n, 3, K), (V, 3, K)
    a = -ul[:, 0] @ vl[:, 0].T + ul[:, 1] @ vl[:, 1].T + ul[:, 2] @ vl[:, 2].T
    x = np.log(world.dur / REF_DURATION_MS)
    s = world.u_tag[u] @ world.v_tag.T
    g = np.tanh(NL_GAIN * s) * (1.0 + NL_DUR * np.tanh(world.u_dpref[u][:, None] * x[None, :]))
    return a + 0.5 * g + world.ret_u[u] @ world.ret_v.T


def _smallest_k_reference(a: np.ndarray, k: int) -> np.ndarray:
    """(n, k) column indices of each row's k smallest values, ascending; ties in the order that
    np.argpartition followed by a stable argsort leaves them (the definition `smallest_k` keeps)."""
    n, m = a.shape
    top = np.argpartition(a, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    order = np.argsort(np.take_along_axis(a, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def smallest_k(a: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(n, k = max(sizes)) column indices of each row's smallest values, ascending, valid in the first
    sizes[row] columns of the row (the rest is padding): the same as the first sizes[row] columns of
    `_smallest_k_reference(a, k)`, about 3x faster.

    torch.topk (sorted) takes the m + 1 smallest of each row, rows grouped by their own m = sizes[row]
    (rounded up to a power of two, so most rows of a chunk select ~50, not the chunk's largest pool). A
    row whose m + 1 smallest values are all distinct has one answer, the one topk gives; a row with a
    tie among them (rare: float32 scores of continuous noise) is recomputed by the reference, whose tie
    order is the definition. Measured on 372 rows of 10,728 float32 scores: topk of 51 takes 12 ms and
    of 401 41 ms, argpartition 40 ms at either."""
    import torch

    sizes = np.asarray(sizes, dtype=np.int64)
    n, m = a.shape
    k = int(sizes.max())
    if k + 1 > m:
        return _smallest_k_reference(a, k)
    top = np.zeros((n, k), dtype=np.int64)
    tie = np.zeros(n, dtype=bool)
    bucket = np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64)
    for b in np.unique(bucket):
        rows = np.flatnonzero(bucket == b)
        kb = int(sizes[rows].max())
        sub = a if len(rows) == n else a[rows]
        vals, idx = torch.topk(torch.from_numpy(sub), kb + 1, dim=1, largest=False, sorted=True)
        vals = vals.numpy()
        top[rows, :kb] = idx.numpy()[:, :kb]
        eq = vals[:, 1:] == vals[:, :-1]  # eq[:, j]: value j equals value j + 1
        tie[rows] = (eq & (np.arange(kb)[None, :] < sizes[rows][:, None])).any(axis=1)
    if tie.any():
        top[tie] = _smallest_k_reference(a[tie], k)
    return top


def _retrieve_pools(world: PlatformWorld, sess_user, sess_day, pool_size, rng, threads: int = 1):
    """Pools: (session index, video) in draw order; pool_size distinct videos each, drawn without
    replacement with probability ~ exp(score) (Gumbel top-k); small-block videos excluded for small users.

    Sessions go in chunks of about 4M (session, video) scores, each a task on `threads` threads
    (`ordered_map`): its uniforms (drawn by the task at its position in rng's stream, `Float32Stream`,
    with more than one thread; in order in the calling thread with one), scores, the Gumbel transform and
    the top-k. The pools, and rng's state after them, are byte-identical for any thread count.

    The Gumbel noise is formed in place on the uniforms, as the negated score log(-log U) - score
    (exactly -(score - log(-log U)) in IEEE arithmetic), so the top-k is a selection of its smallest
    values (`smallest_k`) without a negated copy."""
    V = world.n_videos
    log_pop = np.log(world.pop)
    chunk = max(1, 4_000_000 // V)

    stream = Float32Stream(rng) if threads > 1 and Float32Stream.supported(rng) else None

    def chunks():
        for s0 in range(0, len(sess_user), chunk):
            idx = np.arange(s0, min(s0 + chunk, len(sess_user)))
            # the chunk's uniforms: drawn here in stream order, or by the task at the chunk's position
            yield idx, (rng.random((len(idx), V), dtype=np.float32) if stream is None else s0 * V)

    def select(idx: np.ndarray, uniforms: np.ndarray | int):
        neg = uniforms if stream is None else stream.draw(uniforms, (len(idx), V))
        users, u_inv = np.unique(sess_user[idx], return_inverse=True)  # sessions sorted by user: few
        base = RET_AFF * retrieval_affinity(world, users) + RET_POP * log_pop[None, :]
        base[world.is_small_user[users][:, None] & world.is_small_video[None, :]] = -np.inf
        days, d_inv = np.unique(sess_day[idx], return_inverse=True)
        recency = -RET_RECENCY * np.log1p(np.maximum(days[:, None] - world.upload_day[None, :], 0))
        base, recency = base.astype(np.float32), recency.astype(np.float32)
        np.maximum(neg, 1e-30, out=neg)
        np.log(neg, out=neg)
        np.negative(neg, out=neg)
        np.log(neg, out=neg)  # log(-log U) = -Gumbel
        # rows of one (user, day) share a score row; sessions sorted by user, then start: a few runs
        runs = np.r_[0, np.flatnonzero((np.diff(u_inv) != 0) | (np.diff(d_inv) != 0)) + 1, len(idx)]
        for a, b in zip(runs[:-1], runs[1:], strict=True):
            neg[a:b] -= base[u_inv[a]] + recency[d_inv[a]]
        top = smallest_k(neg, pool_size[idx])
        keep = np.arange(top.shape[1])[None, :] < pool_size[idx][:, None]
        return np.broadcast_to(idx[:, None], top.shape)[keep], top[keep]

    out_s, out_v = zip(*ordered_map(select, chunks(), threads), strict=True)
    if stream is not None:
        stream.finish(len(sess_user) * V)
    return np.concatenate(out_s), np.concatenate(out_v)


def pool_probs(world: PlatformWorld, u: np.ndarray, v: np.ndarray, hour: np.ndarray, threads: int = 1,
               chunk: int = PROB_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """(true, platform): (n, 4) float64 head probabilities of pool rows (u, v) at `hour` without a
    context offset, the truth (`head_probs`) and the platform's own (`platform_probs`).

    In row chunks on `threads` threads: each row's value comes from the same elementwise operations
    whatever the chunking, so the result is byte-identical for any thread count, and the temporaries
    are a chunk's, not the whole pool table's."""
    n = len(u)
    true, plat = np.empty((n, 4)), np.empty((n, 4))

    def work(sl: slice) -> None:
        t = head_probs(world, u[sl], v[sl], hour[sl], world.dur[v[sl]])
        true[sl] = t
        plat[sl] = platform_probs(world, u[sl], v[sl], t)

    for _ in ordered_map(work, ((slice(a, min(a + chunk, n)),) for a in range(0, n, chunk)), threads):
        pass
    return true, plat


@dataclass
class PlatformLog:
    big: BigLog
    pool_platform: np.ndarray  # (pool rows, 4) the platform's probabilities, in pools.parquet order
    pool_session: np.ndarray
    pool_video: np.ndarray


def simulate_platform_big(world: PlatformWorld, spec: ScaleSpec, weights: np.ndarray, noise_scale: float,
                          rng: np.random.Generator,
                          prop_rng: np.random.Generator | None = None, threads: int = 1) -> PlatformLog:
    """The platform policy's sessions; with `prop_rng`, the planted in-list propensities on the platform's
    heads (synthetic.propensity; P(in the pool) of the personalised retrieval is not computed: null).
    `threads`: threads for the retrieval and the pool rows' probabilities; the log is byte-identical for
    any thread count."""
    sess_user, sess_len, sess_start, pool_size, sess_hour, stored = plan_pools(world, spec, rng)
    n_sess = len(sess_user)
    cs, cv = _retrieve_pools(world, sess_user, local_day(sess_start), pool_size, rng, threads)
    true, plat = pool_probs(world, sess_user[cs], cv, sess_hour[cs], threads)
    score = plat @ weights + noise_scale * rng.gumbel(size=len(cv))
    span = 2.0 * np.abs(score).max() + 1.0
    order = np.argsort(cs * span - score)
    cs, cv, true, plat = cs[order], cv[order], true[order], plat[order]
    counts = np.bincount(cs, minlength=n_sess)
    rank = np.arange(len(cs)) - np.repeat(np.cumsum(counts) - counts, counts)
    is_shown = rank < sess_len[cs]
    p_list = np.full(len(cs), np.nan)
    if prop_rng is not None:
        p_list = list_inclusion(cs, plat @ weights / noise_scale, sess_len[cs], is_shown,
                                spec.propensity_draws, prop_rng)
    p_pool = np.full(len(cs), np.nan)
    view_sess, view_video, view_pos = cs[is_shown], cv[is_shown].astype(np.int32), rank[is_shown]
    view_pl = p_list[is_shown]
    n = len(view_sess)
    jitter = np.where(rng.random(n) < 0.12, rng.integers(-3, 4, n), 0)
    view_d = np.maximum(world.dur[view_video] + jitter, DURATION_MIN_MS)
    view_user = sess_user[view_sess]
    # views in order of position: each one's time, hour and fatigue follow from the plays before it
    probs = np.empty((n, 4), np.float32)
    plays = np.empty(n, np.int64)
    view_ts = np.empty(n, np.int64)
    elapsed = np.zeros(n_sess, np.int64)
    gaps = 1000 + np.rint(rng.gamma(2.0, 1500.0, n)).astype(np.int64)
    by_pos = np.argsort(view_pos, kind="stable")
    bounds = np.searchsorted(view_pos[by_pos], np.arange(view_pos.max() + 2))
    for k in range(view_pos.max() + 1):
        i = by_pos[bounds[k]:bounds[k + 1]]
        s = view_sess[i]
        ts = sess_start[s] + elapsed[s]
        off = context_offsets(np.full(len(i), k), elapsed[s] / 60_000.0)
        dd = view_d[i].astype(np.float64)
        mix = _mixture(world, view_user[i], view_video[i], local_hour(ts), dd, off)
        probs[i] = _head_probs_from(mix, view_d[i])
        plays[i] = _sample_play(mix, dd, rng)
        view_ts[i] = ts
        elapsed[s] += plays[i] + gaps[i]
    next_start = np.r_[sess_start[1:], np.iinfo(np.int64).max // 2]
    same_user_next = np.r_[sess_user[1:] == sess_user[:-1], False]
    limit = np.where(same_user_next, next_start - SESSION_END_GAP_MS, np.iinfo(np.int64).max // 2)
    keep = view_ts <= limit[view_sess]
    actual_len = np.bincount(view_sess[keep], minlength=n_sess)
    st = stored[cs]
    pools = _pools_table([(cs[st], cv[st], rank[st], true[st].astype(np.float32), p_list[st], p_pool[st])],
                         sess_user, actual_len)
    big = BigLog(sess_user, sess_start, sess_len, actual_len, view_sess[keep], view_pos[keep],
                 view_video[keep], view_d[keep], view_ts[keep], plays[keep], probs[keep], pools,
                 int(stored.sum()), view_pl[keep], np.full(int(keep.sum()), np.nan))
    return PlatformLog(big, plat[st].astype(np.float32), cs[st], cv[st])


def platform_pools_table(plog: PlatformLog) -> pa.Table:
    cols = {"session_id": pa.array(plog.pool_session.astype(np.int64)),
            "video_id": pa.array(plog.pool_video.astype(np.int32))}
    for j, c in enumerate(PLATFORM_PROB_COLUMNS):
        cols[c] = pa.array(plog.pool_platform[:, j])
    return pa.table(cols)


# --- item daily statistics from the logged views ---------------------------------------------------
def logged_counts(video: np.ndarray, day: np.ndarray, play: np.ndarray, d: np.ndarray, n_videos: int,
                  days: np.ndarray) -> dict[str, np.ndarray]:
    """(V, len(days)) counts over logged views under the release's play definitions (docs/data.md):
    show (every view), play (play > 0), complete (play >= d), valid (play >= d if d <= 7 s, else > 7 s),
    long (play >= d if d <= 18 s, else >= 18 s), short (play < min(3 s, d)), play_duration (sum of plays,
    ms), progress (sum of min(play / d, 1))."""
    inside = (day >= days[0]) & (day <= days[-1])
    video, day, play, d = video[inside], day[inside] - days[0], play[inside], d[inside].astype(np.float64)
    key = video.astype(np.int64) * len(days) + day
    shape = (n_videos, len(days))

    def count(w) -> np.ndarray:
        return np.bincount(key, weights=np.asarray(w, dtype=np.float64),
                           minlength=shape[0] * shape[1]).reshape(shape)

    return {
        "show": count(np.ones(len(play))),
        "play": count(play > 0),
        "complete": count(play >= d),
        "valid": count(np.where(d <= 7000, play >= d, play > 7000)),
        "long": count(np.where(d <= 18000, play >= d, play >= 18000)),
        "short": count(play < np.minimum(3000.0, d)),
        "play_duration": count(play),
        "progress": count(np.minimum(play / d, 1.0)),
    }


def platform_daily_counts(logged: dict[str, np.ndarray], world: World, rng: np.random.Generator):
    """Platform-wide counts: PLATFORM_FACTOR x the logged counts x a lognormal per video-day factor, plus a
    Poisson background of shows (~ popularity) with outcomes at the video's overall logged rates."""
    V, D = logged["show"].shape
    f = PLATFORM_FACTOR * np.exp(rng.normal(0.0, DAILY_NOISE, (V, D)))
    tot = {k: c.sum(axis=1) for k, c in logged.items()}
    bg_show = rng.poisson(BACKGROUND_SHOWS * world.pop[:, None] * V * np.ones((1, D)))
    out = {}
    for k in ("show", "play", "complete", "valid", "long", "short"):
        scaled = np.rint(f * logged[k]).astype(np.int64)
        if k == "show":
            bg = bg_show
        else:
            rate = np.where(tot["show"] > 0, tot[k] / np.maximum(tot["show"], 1), 0.5)[:, None]
            bg = rng.binomial(bg_show, np.clip(rate, 0, 1) * np.ones((1, D)))
        out[k] = scaled + bg
    # keep the release's ordering: each outcome <= play <= show
    out["play"] = np.minimum(out["play"], out["show"])
    for k in ("complete", "valid", "long", "short"):
        out[k] = np.minimum(out[k], out["play"])
    mean_play = np.where(tot["play"] > 0, tot["play_duration"] / np.maximum(tot["play"], 1), world.dur)
    scaled_dur = f * logged["play_duration"]
    out["play_duration"] = np.rint(scaled_dur + (out["play"] - np.rint(f * logged["play"]).clip(0))
                                   .clip(0) * mean_play[:, None]).astype(np.int64)
    mean_prog = np.where(tot["show"] > 0, tot["progress"] / np.maximum(tot["show"], 1), 0.5)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        prog = np.where(logged["show"] > 0, logged["progress"] / np.maximum(logged["show"], 1), mean_prog)
    out["progress"] = np.clip(prog + rng.normal(0, 0.01, (V, D)), 0, 1)
    return out


def item_daily_columns(world: PlatformWorld, big: BigLog, small, rng: np.random.Generator) -> list[pa.Array]:
    """The 58 columns of item_daily_features.csv with the show/play/complete/valid/long/short counts,
    play duration and progress computed from the logged views (big and timed small rows)."""
    from vmrec.synthetic.side_files import (
        ITEM_DAILY_COLUMNS,
        _s,
        daily_static_columns,
        engagement_columns,
        video_attributes,
    )
    from vmrec.synthetic.writers import float_repr

    V = world.n_videos
    days = np.arange(day_index(SMALL_RANGE[0]), day_index(SMALL_RANGE[1]) + 1)
    video = np.concatenate([big.view_video, small.video[small.has_time]])
    day = np.concatenate([local_day(big.view_ts), local_day(small.ts[small.has_time])])
    play = np.concatenate([big.view_play, small.play[small.has_time]])
    d = np.concatenate([big.view_d, small.d[small.has_time]])
    logged = logged_counts(video, day, play, d, V, days)
    counts = platform_daily_counts(logged, world, rng)
    # a row exists on days with logged views, and on others as in the simple world (by popularity rank)
    pop_rank = np.argsort(np.argsort(world.pop)) / max(V - 1, 1)
    p_row = np.clip(0.18 + 0.66 * pop_rank, 0.02, 1.0)
    present = (logged["show"] > 0) | (rng.random((V, len(days))) < p_row[:, None])
    present[np.arange(V), rng.integers(0, len(days), V)] = True
    present &= counts["show"] > 0
    vv, dd = np.nonzero(present)
    date = day_to_yyyymmdd(days[dd])
    static = video_attributes(world, rng, upload_day=world.upload_day)
    c = {k: x[vv, dd] for k, x in counts.items()}

    def users(x: np.ndarray, p: float) -> np.ndarray:
        return rng.binomial(x, p)

    show, play_ = c["show"], c["play"]
    cols = [
        *daily_static_columns(world, vv, date, static, rng),
        _s(show), _s(users(show, 0.93)), _s(play_), _s(users(play_, 0.92)), _s(c["play_duration"]),
        _s(c["complete"]), _s(users(c["complete"], 0.95)), _s(c["valid"]), _s(users(c["valid"], 0.95)),
        _s(c["long"]), _s(users(c["long"], 0.95)), _s(c["short"]), _s(users(c["short"], 0.95)),
        float_repr(np.round(c["progress"], 4)), *engagement_columns(world, vv, play_, date, rng),
    ]
    assert len(cols) == len(ITEM_DAILY_COLUMNS) == 58
    return cols


def truth_section(world: PlatformWorld, plog: PlatformLog) -> dict:
    """truth.json's "platform": the parameters of every platform piece and measured facts."""
    big = plog.big
    return {
        "nonlinear_affinity": {
            "g": f"tanh({NL_GAIN} * u_tag . mean tag embedding(v)) * (1 + {NL_DUR} * tanh(dpref_u * "
                 "log(d / ref)))", "rank": NL_RANK,
            "effect_on_skip_logit_watch_logmean_loop_logit": list(NL_EFF),
            "calibration_shift": [SKIP_SHIFT, MU_SHIFT, LOOP_SHIFT]},
        "position_fatigue": {
            "offset": "POS * log1p(position) + FATIGUE * log1p(minutes into the session) on (skip logit, "
                      "watch log-mean, loop logit)",
            "position": list(POS_EFF), "fatigue": list(FATIGUE_EFF),
            "hour": "each view's behaviour uses its own local hour"},
        "platform_heads": {
            "logit": "logit p_true(u, v, session start) + sum_k E_u[k] E_v[k, head] + b_v[head]",
            "low_rank": HEAD_ERR_RANK, "low_rank_std": HEAD_ERR_STD, "video_bias_std": HEAD_BIAS_STD,
            "file": "platform_pools.parquet (pools.parquet's rows, same order)"},
        "retrieval": {
            "score": f"{RET_AFF} * a(u, v) + {RET_POP} * log popularity - {RET_RECENCY} * log1p(age days) + "
                     "Gumbel; the pool = the top pool_size (a draw without replacement ~ exp(score))",
            "affinity": "-skip + watch + loop latent affinities + 0.5 g + retrieval error (rank "
                        f"{RET_ERR_RANK}, std {RET_ERR_STD})",
            "weights": {"affinity": RET_AFF, "popularity": RET_POP, "recency": RET_RECENCY}},
        "item_daily": {
            "counts": "over the logged views (big, and small rows with a time) under the release's play "
                      f"definitions, times {PLATFORM_FACTOR} x lognormal(0, {DAILY_NOISE}) per video-day, "
                      f"plus Poisson({BACKGROUND_SHOWS} * popularity * V) background shows per day at the "
                      "video's logged rates", "platform_factor": PLATFORM_FACTOR,
            "daily_noise": DAILY_NOISE, "background_shows": BACKGROUND_SHOWS},
        "n_logged_views": int(len(big.view_sess)),
    }


def expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """AUC of `score` on labels drawn from the true probabilities p (in expectation: each row is a
    positive with weight p and a negative with weight 1 - p)."""
    order = np.argsort(score, kind="stable")
    pos, neg = p[order], 1.0 - p[order]
    below = np.cumsum(neg) - neg  # negative weight strictly below each row (ties: by order)
    return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))


def head_auc(pool_true: np.ndarray, pool_platform: np.ndarray, max_rows: int = 500_000) -> dict:
    """Per head: the expected AUC of the truth itself and of the platform's heads on labels drawn from
    the truth, over pool rows (every candidate, at the session start)."""
    n = len(pool_true)
    idx = np.arange(n) if n <= max_rows else np.random.default_rng(0).choice(n, max_rows, replace=False)
    out = {}
    for j, c in enumerate(PLATFORM_PROB_COLUMNS):
        p = pool_true[idx, j].astype(np.float64)
        out[c] = {"auc_truth": round(expected_auc(p, p), 4),
                  "auc_platform": round(expected_auc(pool_platform[idx, j].astype(np.float64), p), 4)}
    return out


def platform_truth(record: dict, world: PlatformWorld, plog: PlatformLog) -> dict:
    """truth.json of the platform world: the simple world's record, the rules that differ, and "platform"."""
    record = dict(record)
    out = {"generator_version": record.pop("generator_version"), "world": "platform"}
    out.update(record)
    out["policy"] = dict(record["policy"], **{
        "score": "sum_k value_weights[k] * q_k(u, v, session start) + noise_scale * Gumbel(0, 1), q = the "
                 "platform's own heads (platform_pools.parquet); the top L candidates are shown in rank "
                 "order (Plackett-Luce with utilities w.q / noise_scale)",
        "pool_draw": "personalised retrieval (platform.retrieval): pool_size distinct videos drawn without "
                     "replacement with probability ~ exp(retrieval score)",
        "pool_probs": "p: the true heads at the session start hour, base duration, no position or fatigue "
                      "(what head_probs gives); q in platform_pools.parquet"})
    out["sessions"] = dict(record["sessions"], context=(
        "each view's behaviour uses its own local hour, its list position and the minutes already spent in "
        "the session (platform.position_fatigue); big_probs.parquet holds the row's probabilities there"))
    out["item_daily"] = "counted from the logged views (platform.item_daily); likes, comments, follows, " \
                        "shares, downloads, reports, collects drawn from the computed play counts"
    sec = truth_section(world, plog)
    pools = plog.big.pools
    true = np.stack([pools.column(c).to_numpy() for c in
                     ("p_complete", "p_long", "p_rewatch", "p_neg")], axis=1)
    sec["platform_heads"]["measured"] = head_auc(true, plog.pool_platform)
    out["platform"] = sec
    return out

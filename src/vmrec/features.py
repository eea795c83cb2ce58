"""The leak-free edge table: one row per view of big and per observed pair of small, with features,
the four labels and the split (contracts.EDGE_ID_COLUMNS, LABEL_COLUMNS, FEATURE_GROUPS).

Leakage rules, and how this module keeps them:
- no feature of a view reads its own play_duration / watch_ratio: labels are the only thing derived
  from them; context features read timestamps only, user features the static user tables, item
  features the static item tables and item_daily_features;
- item daily statistics are taken as of the latest date strictly before the view's date (the view's
  own day is never used), from the (video, date) grid of item_features.parquet, so a view's f_item_*
  equal that table at (video_id, date);
- no encoding uses a label (high-cardinality user categories get frequency encodings).

Context features assume `timestamp` marks the start of a view (as the synthetic generator writes it):
the gap since the user's previous view then holds the previous play, never this one's. (Time to the
NEXT view would leak this view's play duration; it is not a feature.)

The view's date is its `date` partition label (the day item_daily_features counts it in); where the
local calendar day of its timestamp is earlier, that earlier day is used. Small rows without any time
use the first date of the data (no daily statistic is older, so all daily features are missing there).

Everything is vectorised; the edge table is written in row chunks so full scale (17M rows, ~170
float32 features) stays within a few GB.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm import tqdm

from vmrec.contracts import EDGE_ID_COLUMNS, FEATURE_GROUPS, FEATURE_PREFIX, HEADS, N_TAGS, SPLITS
from vmrec.io import atomic_path, write_parquet, write_text
from vmrec.labels import derive_labels

log = logging.getLogger(__name__)

LOCAL_OFFSET_S = 8 * 3600
"""Asia/Shanghai (contracts.TIMEZONE) is UTC+8 without daylight saving since 1991."""
DAY_S = 86400
CHUNK_ROWS = 500_000
"""Rows of the edge table assembled and written at a time (one Parquet row group each)."""

INTERACTION_READ = ("user_id", "video_id", "play_duration", "video_duration", "timestamp", "date", "csv_row")

# --- user feature vocabularies (KUAIREC.md, user_features.csv) -------------------------------------
ACTIVE_DEGREES = ("high_active", "full_active", "middle_active", "UNKNOWN")
RANGE_ORDERS: dict[str, tuple[str, ...]] = {
    "follow_user_num_range": ("0", "(0,10]", "(10,50]", "(50,100]", "(100,150]", "(150,250]", "(250,500]",
                              "500+"),
    "fans_user_num_range": ("0", "[1,10)", "[10,100)", "[100,1k)", "[1k,5k)", "[5k,1w)", "[1w,10w)"),
    "friend_user_num_range": ("0", "[1,5)", "[5,30)", "[30,60)", "[60,120)", "[120,250)", "250+"),
    "register_days_range": ("15-30", "31-60", "61-90", "91-180", "181-365", "366-730", "730+"),
}
USER_FLAGS = ("is_lowactive_period", "is_live_streamer", "is_video_author")
USER_NUMS = ("follow_user_num", "fans_user_num", "friend_user_num")
ONEHOT_MAX: dict[int, int] = {
    0: 1, 1: 7, 2: 29, 3: 1075, 4: 11, 5: 9, 6: 2, 7: 46, 8: 339, 9: 6, 10: 4, 11: 2,
    **{k: 1 for k in range(12, 18)},
}
"""Largest category index of each onehot_featK in the release."""
ONEHOT_NULLABLE = frozenset({4, 12, 13, 14, 15, 16, 17})
"""onehot_featK columns with empty fields in the release: these get an f_user_onehotK_missing flag."""
ONEHOT_MAX_WIDTH = 12
"""onehot_featK with at most this many categories are one-hot encoded; larger ones get the log
frequency of their value among users (target-free)."""

# --- item feature vocabularies (item_daily_features.csv) ------------------------------------------
MAX_UPLOAD_TYPES = 16
DAILY_COUNTS = ("show_cnt", "play_cnt", "play_user_num", "complete_play_cnt", "valid_play_cnt",
                "long_time_play_cnt", "short_time_play_cnt", "like_cnt", "comment_cnt", "share_cnt",
                "follow_cnt", "collect_cnt")
DAILY_RATES = (  # (name, numerator, denominator)
    ("play_per_show", "play_cnt", "show_cnt"),
    ("complete_rate", "complete_play_cnt", "play_cnt"),
    ("valid_rate", "valid_play_cnt", "play_cnt"),
    ("long_rate", "long_time_play_cnt", "play_cnt"),
    ("short_rate", "short_time_play_cnt", "play_cnt"),
    ("like_rate", "like_cnt", "play_cnt"),
    ("comment_rate", "comment_cnt", "play_cnt"),
    ("share_rate", "share_cnt", "play_cnt"),
    ("follow_rate", "follow_cnt", "play_cnt"),
    ("reduce_similar_rate", "reduce_similar_cnt", "play_cnt"),
)
CUM_COUNTS = ("show_cnt", "play_cnt", "complete_play_cnt", "short_time_play_cnt", "like_cnt")
RATE_CLIP = 5.0


# --- small helpers ---------------------------------------------------------------------------------
@contextmanager
def _timed(what: str) -> Any:
    t0 = time.perf_counter()
    yield
    log.info("%s: %.1f s", what, time.perf_counter() - t0)


class _Block:
    """Ordered float32 feature columns with their descriptions."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.cols: dict[str, np.ndarray] = {}
        self.desc: dict[str, str] = {}

    def add(self, name: str, values: np.ndarray, description: str) -> None:
        v = np.asarray(values, dtype=np.float32)
        if v.shape != (self.n,):
            raise ValueError(f"feature {name}: expected shape ({self.n},), found {v.shape}")
        if name in self.cols:
            raise ValueError(f"feature {name} defined twice")
        if not np.isfinite(v).all():
            bad = int((~np.isfinite(v)).sum())
            raise ValueError(f"feature {name}: {bad} non-finite values (expected all filled)")
        self.cols[name] = v
        self.desc[name] = description

    def add_filled(self, name: str, values: np.ndarray, description: str, fill: float = 0.0) -> None:
        """Add `values` with NaN replaced by `fill`, and the indicator `<name>_missing`."""
        v = np.asarray(values, dtype=np.float64)
        miss = np.isnan(v)
        self.add(name, np.where(miss, fill, v), f"{description} ({fill:g} where missing)")
        self.add(f"{name}_missing", miss, f"1 if {name} is missing")

    def matrix(self) -> np.ndarray:
        if not self.cols:
            return np.zeros((self.n, 0), dtype=np.float32)
        return np.column_stack(list(self.cols.values())).astype(np.float32, copy=False)


def _read(tables_dir: Path, stem: str, columns: Sequence[str] | None = None) -> pa.Table:
    path = Path(tables_dir) / f"{stem}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"ingested table {stem} not found: expected {path}")
    table = pq.read_table(path, columns=list(columns) if columns is not None else None)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"vmrec_stem": stem.encode()})


def _np(table: pa.Table, name: str, dtype: Any = np.float64) -> np.ndarray:
    """Column as a numpy array; nulls become NaN (float dtypes) - so ask for float where nullable."""
    col = table.column(name)
    where = f"{(table.schema.metadata or {}).get(b'vmrec_stem', b'?').decode()}.{name}"
    if np.issubdtype(np.dtype(dtype), np.floating):
        col = pc.cast(col, pa.float64())
        return col.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    if col.null_count:
        raise ValueError(f"column {where}: {col.null_count} null values where none are allowed")
    return col.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def _slug(value: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "empty"


def yyyymmdd_to_day(dates: np.ndarray, where: str = "date") -> np.ndarray:
    """YYYYMMDD numbers (float, NaN = missing) -> days since 1970-01-01 (float, NaN kept).
    `where` names the column in error messages."""
    d = np.asarray(dates, dtype=np.float64)
    out = np.full(d.shape, np.nan)
    ok = ~np.isnan(d)
    if ok.any():
        uniq, inv = np.unique(d[ok].astype(np.int64), return_inverse=True)
        parsed = pd.to_datetime(pd.Series(uniq.astype(str)), format="%Y%m%d", errors="coerce")
        if parsed.isna().any():
            bad = uniq[parsed.isna().to_numpy()][:5].tolist()
            raise ValueError(f"{where}: expected YYYYMMDD dates, found {bad}")
        days = (parsed.to_numpy().astype("datetime64[D]").astype(np.int64)).astype(np.float64)
        out[ok] = days[inv]
    return out


def day_to_yyyymmdd(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 -> YYYYMMDD int32."""
    dt = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    y = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    m = dt.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dt - dt.astype("datetime64[M]")).astype(np.int64) + 1
    return (y * 10000 + m * 100 + d).astype(np.int32)


def _local_day(ts: np.ndarray) -> np.ndarray:
    return np.floor((ts + LOCAL_OFFSET_S) / DAY_S)


def _log1p_pos(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(x, 0, None))


# --- context ----------------------------------------------------------------------------------------
def context_features(user_id: np.ndarray, ts: np.ndarray, source: str) -> _Block:
    """f_ctx_* of one source's rows (table order) from timestamps only.

    Local hour and weekday as sin/cos, log1p seconds since the user's previous view and log1p of the
    user's views so far, both counted within this source in (timestamp, row) order. Rows without a
    timestamp get zeros and f_ctx_time_missing = 1.
    """
    n = len(ts)
    block = _Block(n)
    has = ~np.isnan(ts)
    t = np.where(has, ts, 0.0)
    local_s = np.mod(t + LOCAL_OFFSET_S, DAY_S)
    hour_angle = 2 * np.pi * local_s / DAY_S
    weekday = np.mod(_local_day(t) + 3, 7)  # 1970-01-01 was a Thursday; Monday = 0
    wd_angle = 2 * np.pi * weekday / 7
    gap = np.full(n, np.nan)
    seen = np.full(n, np.nan)
    idx = np.flatnonzero(has)
    if idx.size:
        uu, tt = user_id[idx], ts[idx]
        # big is stored by user, then time: skip the sort when the rows already are in that order
        if len(idx) > 1 and np.all((uu[1:] > uu[:-1]) | ((uu[1:] == uu[:-1]) & (tt[1:] >= tt[:-1]))):
            order = idx
        else:
            order = idx[np.lexsort((idx, tt, uu))]
        del uu, tt
        u = user_id[order]
        tt = ts[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = u[1:] != u[:-1]
        pos = np.arange(len(order))
        start = np.maximum.accumulate(np.where(first, pos, 0))
        seen[order] = pos - start
        g = np.empty(len(order))
        g[0] = np.nan
        g[1:] = np.diff(tt)
        g[first] = np.nan
        gap[order] = g
    zero = ~has
    for name, angle, what in (("hour", hour_angle, "local (UTC+8) time of day"),
                              ("weekday", wd_angle, "local weekday (Monday = 0)")):
        block.add(f"f_ctx_{name}_sin", np.where(zero, 0, np.sin(angle)), f"sin of the {what}")
        block.add(f"f_ctx_{name}_cos", np.where(zero, 0, np.cos(angle)), f"cos of the {what}")
    block.add("f_ctx_time_missing", zero, "1 if the view has no timestamp (small rows only)")
    block.add_filled("f_ctx_log_gap", np.log1p(np.clip(gap, 0, None)),
                     f"log1p seconds since the user's previous {source}-matrix view")
    block.add_filled("f_ctx_log_views_so_far", np.log1p(seen),
                     f"log1p of the user's earlier {source}-matrix views")
    return block


# --- user -------------------------------------------------------------------------------------------
def user_features(tables_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Static user features: (sorted user ids, float32 matrix users x k, {column: description})."""
    uf = _read(tables_dir, "user_features")
    users = _np(uf, "user_id", np.int64)
    if len(np.unique(users)) != len(users):
        raise ValueError("user_features: user_id is not unique")
    order = np.argsort(users, kind="stable")
    uf = uf.take(pa.array(order))
    users = users[order]
    n = len(users)
    b = _Block(n)
    deg = pc.fill_null(pc.cast(uf.column("user_active_degree"), pa.string()), "UNKNOWN").to_numpy(
        zero_copy_only=False).astype(str)
    known = np.isin(deg, ACTIVE_DEGREES)
    deg = np.where(known, deg, "UNKNOWN")
    for v in ACTIVE_DEGREES:
        b.add(f"f_user_active_{_slug(v)}", deg == v, f"user_active_degree == {v} (null = UNKNOWN)")
    for c in USER_FLAGS:
        x = _np(uf, c)
        b.add(f"f_user_{c}", np.nan_to_num(x, nan=0.0), f"{c} flag (0 where empty)")
    for c in (*USER_NUMS, "register_days"):
        x = _np(uf, c)
        if np.isnan(x).any():
            log.warning("user_features.%s: %d empty values encoded as 0", c, int(np.isnan(x).sum()))
        b.add(f"f_user_log_{c}", _log1p_pos(np.nan_to_num(x)), f"log1p {c}")
    for c, levels in RANGE_ORDERS.items():
        s = pc.cast(uf.column(c), pa.string()).to_numpy(zero_copy_only=False)
        lookup = {v: i for i, v in enumerate(levels)}
        codes, uniq = pd.factorize(pd.Series(s, dtype=object), use_na_sentinel=True)
        level = np.array([lookup.get(x, np.nan) for x in uniq], dtype=np.float64)
        ordinal = np.where(codes >= 0, level[np.maximum(codes, 0)] if len(level) else np.nan, np.nan)
        b.add_filled(f"f_user_{c}_ord", ordinal, f"ordinal of {c} in {list(levels)}")
    for k, kmax in ONEHOT_MAX.items():
        c = f"onehot_feat{k}"
        x = _np(uf, c)
        miss = np.isnan(x)
        bad = ~miss & ((x < 0) | (x > kmax) | (x != np.round(x)))
        if bad.any():
            log.warning("user_features.%s: %d values outside 0..%d treated as missing", c, bad.sum(), kmax)
            miss |= bad
        if miss.any() and k not in ONEHOT_NULLABLE:
            log.warning("user_features.%s: %d empty values encoded as all-zero", c, int(miss.sum()))
        xi = np.where(miss, -1, x).astype(np.int64)
        if kmax == 1:
            b.add(f"f_user_onehot{k}", xi == 1, f"{c} (binary index)")
        elif kmax + 1 <= ONEHOT_MAX_WIDTH:
            for v in range(kmax + 1):
                b.add(f"f_user_onehot{k}_{v}", xi == v, f"{c} == {v}")
        else:
            vals, inv, counts = np.unique(xi, return_inverse=True, return_counts=True)
            freq = np.log(counts[inv] / n)
            b.add(f"f_user_onehot{k}_logfreq", np.where(miss, 0.0, freq),
                  f"log share of users with the same {c} value (frequency encoding, target-free)")
        if k in ONEHOT_NULLABLE:
            b.add(f"f_user_onehot{k}_missing", miss, f"1 if {c} is empty")
    # friends from the social network (users absent from it have none)
    sn = _read(tables_dir, "social_network")
    fr_users = _np(sn, "user_id", np.int64)
    fr_count = pc.list_value_length(sn.column("friend_list")).to_numpy(zero_copy_only=False)
    fr_count = np.nan_to_num(np.asarray(fr_count, dtype=np.float64))
    friends = np.zeros(n)
    pos = np.searchsorted(users, fr_users)
    found = (pos < n) & (users[np.minimum(pos, n - 1)] == fr_users)
    np.add.at(friends, pos[found], fr_count[found])
    b.add("f_user_log_friends", np.log1p(friends), "log1p friends in social_network (0 if absent)")
    return users, b.matrix(), b.desc


# --- item ---------------------------------------------------------------------------------------------
def _first_per_group(keys: np.ndarray) -> np.ndarray:
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first


def item_feature_grid(tables_dir: Path, videos: np.ndarray, days: np.ndarray,
                      median_duration: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """f_item_* for every (video, day) of the grid videos x days (video-major), from days < day only.

    videos: sorted video ids; days: consecutive days since epoch; median_duration: ms per video from
    the interaction rows (NaN where the video has none).
    Returns the float32 matrix (len(videos) * len(days), k) and the column descriptions.
    """
    nv, nd = len(videos), len(days)
    # static: tags
    ic = _read(tables_dir, "item_categories")
    ic_v = _np(ic, "video_id", np.int64)
    tag_lists = ic.column("feat")
    lens = pc.list_value_length(tag_lists).to_numpy(zero_copy_only=False)
    lens = np.nan_to_num(np.asarray(lens, dtype=np.float64)).astype(np.int64)
    flat = pc.list_flatten(tag_lists).to_numpy(zero_copy_only=False).astype(np.int64)
    owner = np.repeat(ic_v, lens)
    ok = (flat >= 0) & (flat < N_TAGS)
    if (~ok).any():
        log.warning("item_categories.feat: %d tag ids outside 0..%d ignored", int((~ok).sum()), N_TAGS - 1)
    tags = np.zeros((nv, N_TAGS), dtype=np.float32)
    vpos = np.searchsorted(videos, owner[ok])
    tags[vpos, flat[ok]] = 1.0
    has_tags = np.zeros(nv, dtype=bool)
    has_tags[np.searchsorted(videos, ic_v)] = True

    # daily table, sorted by (video, date)
    daily_cols = sorted({"video_id", "date", "video_type", "upload_dt", "upload_type", "video_duration",
                         "play_duration", "play_progress", "reduce_similar_cnt", *DAILY_COUNTS})
    dt = _read(tables_dir, "item_daily_features", daily_cols)
    dv = _np(dt, "video_id", np.int64)
    dday = yyyymmdd_to_day(_np(dt, "date"), "item_daily_features.date")
    if np.isnan(dday).any():
        raise ValueError(f"item_daily_features.date: {int(np.isnan(dday).sum())} empty values")
    order = np.lexsort((dday, dv))
    dt = dt.take(pa.array(order))
    dv, dday = dv[order], dday[order].astype(np.int64)
    dvpos = np.searchsorted(videos, dv)
    first = _first_per_group(dvpos)
    dup = ~first & np.r_[False, dday[1:] == dday[:-1]]
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"item_daily_features: (video_id, date) not unique: ({dv[i]}, day {dday[i]})")

    # static from each video's first daily row
    fidx = np.flatnonzero(first)
    fv = dvpos[fidx]
    vtype = pc.cast(dt.column("video_type"), pa.string()).to_numpy(zero_copy_only=False)[fidx]
    is_ad = np.zeros(nv)
    is_ad[fv] = np.array([x == "AD" for x in vtype], dtype=np.float64)
    utype_all = pc.cast(dt.column("upload_type"), pa.string()).to_numpy(zero_copy_only=False)[fidx]
    utype_all = np.array([x if isinstance(x, str) else "UNKNOWN" for x in utype_all], dtype=object)
    cats, counts = np.unique(utype_all.astype(str), return_counts=True)
    top = sorted(cats[np.argsort(-counts, kind="stable")][:MAX_UPLOAD_TYPES].tolist())
    utype = np.full(nv, "", dtype=object)
    utype[fv] = utype_all
    up_day = np.full(nv, np.nan)
    up = pc.cast(dt.column("upload_dt"), pa.date32())
    up_days = pc.cast(up, pa.int32()).to_numpy(zero_copy_only=False)
    up_day[fv] = np.asarray(up_days, dtype=np.float64)[fidx]
    dur_daily = np.full(nv, np.nan)
    ddur = _np(dt, "video_duration")
    med = pd.Series(ddur).groupby(dvpos).median()
    dur_daily[med.index.to_numpy()] = med.to_numpy()
    duration = np.where(np.isnan(median_duration), dur_daily, median_duration)

    # daily statistics of each row
    play = np.nan_to_num(_np(dt, "play_cnt"))
    stats: dict[str, tuple[np.ndarray, str]] = {}
    for c in DAILY_COUNTS:
        stats[f"log_{c}"] = (_log1p_pos(_np(dt, c)), f"log1p {c}")
    for name, num, den in DAILY_RATES:
        x = np.nan_to_num(_np(dt, num))
        y = np.nan_to_num(_np(dt, den))
        stats[name] = (np.clip(x / np.maximum(y, 1), 0, RATE_CLIP), f"{num} / max({den}, 1) (<= {RATE_CLIP})")
    avg_ratio = np.nan_to_num(_np(dt, "play_duration")) / np.maximum(play, 1) / duration[dvpos]
    stats["avg_watch_ratio"] = (np.clip(np.nan_to_num(avg_ratio), 0, 10), "play_duration / play_cnt / dur.")
    stats["play_progress"] = (_np(dt, "play_progress"), "play_progress")
    cum: dict[str, np.ndarray] = {}
    starts = np.maximum.accumulate(np.where(first, np.arange(len(dv)), 0))
    for c in CUM_COUNTS:
        cs = np.cumsum(np.nan_to_num(_np(dt, c)))
        base = np.where(starts > 0, cs[np.maximum(starts - 1, 0)], 0.0)
        cum[c] = cs - base  # cumulative within the video, up to and including the row's date

    # as-of join of the grid: latest daily row with date < grid day, same video
    gv = np.repeat(np.arange(nv, dtype=np.int64), nd)
    gday = np.tile(np.asarray(days, dtype=np.int64), nv)
    span = int(max(gday.max(initial=0), dday.max(initial=0))) + 2
    dkey = dvpos.astype(np.int64) * span + dday
    gkey = gv * span + gday
    j = np.searchsorted(dkey, gkey, side="left") - 1
    hit = (j >= 0) & (dvpos[np.maximum(j, 0)] == gv)
    js = np.maximum(j, 0)
    ng = len(gv)
    b = _Block(ng)
    b.add_filled("f_item_log_duration", (np.log(np.clip(duration, 1, None)) - np.log(1000.0))[gv],
                 "log video duration in seconds (median over the video's rows, else item_daily)")
    for t in range(N_TAGS):
        b.add(f"f_item_tag{t}", tags[gv, t], f"video has tag {t} (item_categories)")
    b.add("f_item_tags_missing", ~has_tags[gv], "1 if the video is absent from item_categories")
    b.add("f_item_is_ad", is_ad[gv], "video_type == AD")
    for cat in top:
        b.add(f"f_item_upload_{_slug(cat)}", (utype == cat)[gv], f"upload_type == {cat}")
    b.add("f_item_upload_other", (~np.isin(utype, top) & (utype != ""))[gv],
          f"upload_type not among the {len(top)} most common")
    age = gday - up_day[gv]
    b.add_filled("f_item_log_upload_age", np.log1p(np.clip(age, 0, None)),
                 "log1p days from upload_dt to the view's date")
    b.add("f_item_daily_missing", ~hit, "1 if the video has no item_daily row before the view's date")
    since = np.where(hit, gday - dday[js], np.nan)
    b.add("f_item_log_days_since_daily", np.where(hit, np.log1p(since), 0.0),
          "log1p days from the latest earlier item_daily row to the view's date (0 if none)")
    for name, (vals, desc) in stats.items():
        v = np.where(hit, vals[js], np.nan)
        if name in ("log_collect_cnt", "play_progress"):
            b.add_filled(f"f_item_prev_{name}", v, f"{desc}, latest day before the view's date")
        else:
            b.add(f"f_item_prev_{name}", np.nan_to_num(v), f"{desc}, latest earlier day, or 0")
    cum_at = {c: np.where(hit, cum[c][js], 0.0) for c in CUM_COUNTS}
    for c in ("show_cnt", "play_cnt"):
        b.add(f"f_item_cum_log_{c}", np.log1p(cum_at[c]), f"log1p {c} summed over earlier days")
    for c, name in (("complete_play_cnt", "complete_rate"), ("short_time_play_cnt", "short_rate"),
                    ("like_cnt", "like_rate")):
        b.add(f"f_item_cum_{name}", np.clip(cum_at[c] / np.maximum(cum_at["play_cnt"], 1), 0, RATE_CLIP),
              f"sum {c} / max(sum play_cnt, 1) over days before the view")
    return b.matrix(), b.desc


# --- the edge table -----------------------------------------------------------------------------------
FLAG_SUFFIXES = ("_missing", "_other")


def _nonempty(names: Sequence[str], col_max: np.ndarray) -> np.ndarray:
    """Keep-mask over columns: indicator columns (FLAG_SUFFIXES) that are 0 on every row are dropped
    (they carry nothing and have zero variance); every other column is kept."""
    is_flag = np.array([c.endswith(FLAG_SUFFIXES) for c in names], dtype=bool)
    keep = ~is_flag | (np.asarray(col_max) > 0)
    if (~keep).any():
        dropped = [c for c, k in zip(names, keep, strict=True) if not k]
        log.info("dropped all-zero indicator columns: %s", dropped)
    return keep


def split_big(ts: np.ndarray, train_frac: float, val_frac: float) -> np.ndarray:
    """Split of big's rows as int8 codes into contracts.SPLITS, by global timestamp cut points:
    train < t1 <= val < t2 <= test, with t1, t2 the train_frac and train_frac + val_frac quantiles."""
    if not (0 < train_frac and 0 < val_frac and train_frac + val_frac < 1):
        raise ValueError(f"split: need 0 < train_frac, 0 < val_frac, sum < 1; found {train_frac}, {val_frac}")
    if np.isnan(ts).any():
        i = int(np.flatnonzero(np.isnan(ts))[0])
        raise ValueError(f"big_matrix.timestamp: {int(np.isnan(ts).sum())} empty values (first at row {i})")
    out = np.full(len(ts), SPLITS.index("test"), dtype=np.int8)
    if len(ts) == 0:
        return out
    k1, k2 = int(len(ts) * train_frac), int(len(ts) * (train_frac + val_frac))
    t1, t2 = np.partition(ts, (k1, k2))[[k1, k2]]
    out[ts < t2] = SPLITS.index("val")
    out[ts < t1] = SPLITS.index("train")
    log.info("split cut points (UTC epoch s): train < %.3f <= val < %.3f <= test", t1, t2)
    return out


def _interactions(tables_dir: Path, stem: str) -> dict[str, np.ndarray]:
    t = _read(tables_dir, stem, INTERACTION_READ)
    return {
        "user_id": _np(t, "user_id", np.int64),
        "video_id": _np(t, "video_id", np.int64),
        "play_duration": _np(t, "play_duration"),
        "video_duration": _np(t, "video_duration"),
        "timestamp": _np(t, "timestamp"),
        "date": _np(t, "date"),
        "csv_row": _np(t, "csv_row", np.int64),
    }


def _view_day(inter: dict[str, np.ndarray], stem: str) -> np.ndarray:
    """As-of day of each view: its date label, or the earlier local day of its timestamp (NaN if neither)."""
    dday = yyyymmdd_to_day(inter["date"], f"{stem}.date")
    lday = _local_day(inter["timestamp"])
    return np.fmin(dday, lday)  # fmin ignores NaN on one side


def build_edge_table(tables_dir: Path, out_edges: Path, out_columns: Path, out_items: Path,
                     labels: Mapping[str, float], split: Mapping[str, float]) -> None:
    """Write edges.parquet, columns.csv and item_features.parquet from the ingested tables."""
    tables_dir = Path(tables_dir)
    t_start = time.perf_counter()
    with _timed("read interactions"):
        src = {name: _interactions(tables_dir, f"{name}_matrix") for name in ("big", "small")}
    n_big, n_small = len(src["big"]["user_id"]), len(src["small"]["user_id"])
    n = n_big + n_small
    log.info("rows: big %d, small %d", n_big, n_small)

    with _timed("labels, split, view dates"):
        per_source = [derive_labels(s["play_duration"], s["video_duration"], labels) for s in src.values()]
        lab = {h: np.concatenate([ls[h] for ls in per_source]) for h in HEADS}
        del per_source
        big_split = split_big(src["big"]["timestamp"], split["train_frac"], split["val_frac"])
        split_code = np.concatenate([big_split, np.full(n_small, SPLITS.index("small"), dtype=np.int8)])
        vday = np.concatenate([_view_day(s, f"{name}_matrix") for name, s in src.items()])
        video_all = np.concatenate([s["video_id"] for s in src.values()])
        dur_all = np.concatenate([s["video_duration"] for s in src.values()])
        for s in src.values():  # only ids, timestamps, csv rows and dates stay in memory
            for k in ("play_duration", "video_duration"):
                del s[k]

    with _timed("context features"):
        ctx_blocks = [context_features(s["user_id"], s["timestamp"], name) for name, s in src.items()]
        # feature-major (k, n): each column of a chunk is a contiguous slice
        ctx_t = np.stack([np.concatenate([b.cols[c] for b in ctx_blocks]) for c in ctx_blocks[0].cols])
        keep = _nonempty(list(ctx_blocks[0].desc), ctx_t.max(axis=1, initial=0))
        ctx_t = ctx_t[keep]
        desc = {c: d for (c, d), k in zip(ctx_blocks[0].desc.items(), keep, strict=True) if k}

    with _timed("user features"):
        users, umat, udesc = user_features(tables_dir)
        user_all = np.concatenate([s["user_id"] for s in src.values()])
        upos = np.searchsorted(users, user_all)
        u_found = (upos < len(users)) & (users[np.minimum(upos, len(users) - 1)] == user_all)
        if not u_found.all():
            log.warning("%d rows have a user absent from user_features (features zero, f_user_missing = 1)",
                        int((~u_found).sum()))
        umat = np.vstack([umat, np.zeros((1, umat.shape[1]), np.float32)])  # last row: absent user
        umat = np.column_stack([umat, np.r_[np.zeros(len(users)), 1.0].astype(np.float32)])
        udesc = {**udesc, "f_user_missing": "1 if the user is absent from user_features"}
        upos = np.where(u_found, upos, len(users)).astype(np.int32)
        keep = _nonempty(list(udesc), umat[np.unique(upos)].max(axis=0, initial=0))
        umat = umat[:, keep]
        udesc = {c: d for (c, d), k in zip(udesc.items(), keep, strict=True) if k}

    with _timed("item features"):
        daily_v = _np(_read(tables_dir, "item_daily_features", ["video_id"]), "video_id", np.int64)
        cat_v = _np(_read(tables_dir, "item_categories", ["video_id"]), "video_id", np.int64)
        videos = np.unique(np.concatenate([video_all, daily_v, cat_v]))
        daily_days = yyyymmdd_to_day(_np(_read(tables_dir, "item_daily_features", ["date"]), "date"),
                                     "item_daily_features.date")
        known = np.concatenate([vday[~np.isnan(vday)], daily_days[~np.isnan(daily_days)]])
        if known.size == 0:
            raise ValueError(f"no dates found in the tables of {tables_dir}")
        d0, d1 = int(known.min()), int(known.max())
        days = np.arange(d0, d1 + 1, dtype=np.int64)
        vday = np.where(np.isnan(vday), d0, vday).astype(np.int64)  # undated small rows: first day
        vpos_all = np.searchsorted(videos, video_all)
        med = pd.Series(dur_all).groupby(vpos_all).median()
        median_duration = np.full(len(videos), np.nan)
        median_duration[med.index.to_numpy()] = med.to_numpy()
        del dur_all, med
        imat, idesc = item_feature_grid(tables_dir, videos, days, median_duration)
        ipos = (vpos_all.astype(np.int64) * len(days) + (vday - d0)).astype(np.int64)
        keep = _nonempty(list(idesc), imat.max(axis=0, initial=0))
        imat = imat[:, keep]
        idesc = {c: d for (c, d), k in zip(idesc.items(), keep, strict=True) if k}
        log.info("item grid: %d videos x %d days (%s..%s), %d features", len(videos), len(days),
                 day_to_yyyymmdd(np.array([d0]))[0], day_to_yyyymmdd(np.array([d1]))[0], imat.shape[1])

    with _timed("write item_features"):
        items = {"video_id": pa.array(np.repeat(videos, len(days)).astype(np.int32)),
                 "date": pa.array(np.tile(day_to_yyyymmdd(days), len(videos)))}
        items.update({name: pa.array(imat[:, k]) for k, name in enumerate(idesc)})
        write_parquet(pa.table(items), out_items)
        del items

    desc.update(udesc)
    desc.update(idesc)
    feature_names = list(desc)
    id_cols = {
        "edge_id": (pa.int64(), "row number 0..n-1 of the table"),
        "user_id": (pa.int32(), "user id"),
        "video_id": (pa.int32(), "video id"),
        "source": (pa.string(), "big | small: the matrix the view comes from"),
        "csv_row": (pa.int64(), "0-based data row in the source CSV"),
        "timestamp": (pa.float64(), "UTC epoch seconds of the view (null on small rows without time)"),
        "date": (pa.int32(), "YYYYMMDD as-of date of the f_item_* features (item_features.parquet key); "
                             "daily statistics come from dates strictly before it"),
        "split": (pa.string(), "train | val | test (big, by timestamp) | small"),
    }
    lc = {k: f"{float(v):g}" for k, v in labels.items()}
    label_desc = {
        "y_complete": f"play >= {lc['complete_ratio']} * duration",
        "y_long": f"play >= min(duration, {lc['long_seconds']} s)",
        "y_rewatch": f"play >= {lc['rewatch_ratio']} * duration",
        "y_neg": f"play < min({lc['neg_seconds']} s, duration)",
    }
    if list(id_cols) != list(EDGE_ID_COLUMNS):
        raise AssertionError(f"edge id columns {list(id_cols)} differ from contracts {list(EDGE_ID_COLUMNS)}")
    fields = [pa.field(c, t) for c, (t, _) in id_cols.items()]
    fields += [pa.field(h, pa.int8()) for h in HEADS]
    fields += [pa.field(f, pa.float32()) for f in feature_names]
    schema = pa.schema(fields)

    ts_all = np.concatenate([s["timestamp"] for s in src.values()])
    csv_all = np.concatenate([s["csv_row"] for s in src.values()])
    source_code = np.repeat(np.array([0, 1], dtype=np.int8), [n_big, n_small])
    source_vocab, split_vocab = pa.array(["big", "small"]), pa.array(list(SPLITS))
    umat_t, imat_t = np.ascontiguousarray(umat.T), np.ascontiguousarray(imat.T)
    del umat, imat
    date_all = day_to_yyyymmdd(vday)
    n_ctx, n_user, n_item = ctx_t.shape[0], umat_t.shape[0], imat_t.shape[0]
    with _timed("write edges"), atomic_path(out_edges) as tmp:
        # dictionary-encode only the low-cardinality columns: small files without paying for it on
        # continuous ones (user features take at most one value per user)
        ctx_binary = ((ctx_t == 0) | (ctx_t == 1)).all(axis=1)
        item_binary = ((imat_t == 0) | (imat_t == 1)).all(axis=1)
        low_card = ["source", "split", *HEADS, *udesc,
                    *(c for c, b in zip(feature_names[:n_ctx], ctx_binary, strict=True) if b),
                    *(c for c, b in zip(idesc, item_binary, strict=True) if b)]
        with pq.ParquetWriter(tmp, schema, use_dictionary=low_card) as writer:
            starts = range(0, max(n, 1), CHUNK_ROWS)
            for a in tqdm(starts, desc="edges", unit="chunk", mininterval=5):
                sl = slice(a, min(a + CHUNK_ROWS, n))
                ts = ts_all[sl]
                cols: list[pa.Array] = [
                    pa.array(np.arange(sl.start, sl.stop, dtype=np.int64)),
                    pa.array(user_all[sl].astype(np.int32)),
                    pa.array(video_all[sl].astype(np.int32)),
                    source_vocab.take(pa.array(source_code[sl])),
                    pa.array(csv_all[sl]),
                    pa.array(ts, mask=np.isnan(ts)),
                    pa.array(date_all[sl]),
                    split_vocab.take(pa.array(split_code[sl])),
                ]
                cols += [pa.array(lab[h][sl]) for h in HEADS]
                cols += [pa.array(x) for x in ctx_t[:, sl]]
                cols += [pa.array(x) for x in np.take(umat_t, upos[sl], axis=1)]
                cols += [pa.array(x) for x in np.take(imat_t, ipos[sl], axis=1)]
                writer.write_table(pa.Table.from_arrays(cols, schema=schema))
    assert n_ctx + n_user + n_item == len(feature_names)

    rows = [(c, EDGE_ID_COLUMNS[c], "id", d) for c, (_, d) in id_cols.items()]
    rows += [(h, "int8", "label", label_desc[h]) for h in HEADS]
    rows += [(f, "float32", feature_group(f), desc[f]) for f in feature_names]
    write_text(pd.DataFrame(rows, columns=["name", "dtype", "group", "description"]).to_csv(index=False),
               out_columns)
    log.info("edge table: %d rows, %d features (%d ctx, %d user, %d item); total %.1f s", n,
             len(feature_names), n_ctx, n_user, n_item, time.perf_counter() - t_start)


# --- lookups for downstream stages ----------------------------------------------------------------------
def feature_group(name: str) -> str:
    """The FEATURE_GROUPS prefix a feature column belongs to (ValueError if none)."""
    for g in FEATURE_GROUPS:
        if name.startswith(g):
            return g
    raise ValueError(f"column {name!r} is not a feature of any group {FEATURE_GROUPS}")


def feature_columns(source: str | Path | pd.DataFrame | pa.Schema | Iterable[str],
                    groups: Sequence[str] = FEATURE_GROUPS) -> list[str]:
    """The f_* columns of an edge table (path to a Parquet file, DataFrame, schema or names), in table
    order, restricted to `groups` (prefixes, default all)."""
    if isinstance(source, (str, Path)):
        names = pq.read_schema(source).names
    elif isinstance(source, pd.DataFrame):
        names = list(source.columns)
    elif isinstance(source, pa.Schema):
        names = source.names
    else:
        names = list(source)
    return [c for c in names if c.startswith(FEATURE_PREFIX) and c.startswith(tuple(groups))]


class ItemFeatureLookup:
    """f_item_* of (video_id, date) pairs from item_features.parquet, indexed once for repeated lookups
    (the value model scores many candidate videos per session date)."""

    def __init__(self, items_df: pd.DataFrame) -> None:
        self.columns = feature_columns(items_df)
        self.values = items_df[self.columns].to_numpy(np.float32)
        self._index = pd.Index(self._key(items_df["video_id"].to_numpy(), items_df["date"].to_numpy()))
        if not self._index.is_unique:
            raise ValueError("item_features: (video_id, date) pairs are not unique")

    @staticmethod
    def _key(video_id: np.ndarray, date: np.ndarray) -> np.ndarray:
        return np.asarray(video_id, dtype=np.int64) * 100_000_000 + np.asarray(date, dtype=np.int64)

    def __call__(self, video_id: Any, date: Any) -> np.ndarray:
        """float32 (n, k) rows for equal-length (or broadcastable) arrays, (k,) for two scalars."""
        scalar = np.ndim(video_id) == 0 and np.ndim(date) == 0
        v, d = np.broadcast_arrays(np.atleast_1d(np.asarray(video_id, dtype=np.int64)),
                                   np.atleast_1d(np.asarray(date, dtype=np.int64)))
        pos = self._index.get_indexer(self._key(v, d))
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            raise KeyError(f"item_features has no row for video_id={v[i]}, date={d[i]} "
                           f"({int((pos < 0).sum())} of {len(pos)} pairs missing)")
        out = self.values[pos]
        return out[0] if scalar else out


def item_features_for(items_df: pd.DataFrame, video_id: Any, date: Any) -> np.ndarray:
    """f_item_* rows of item_features.parquet at (video_id, date) pairs: float32 (n, k), or (k,) for two
    scalars; columns follow feature_columns(items_df). Raises KeyError naming the first pair the table
    does not hold. For many lookups build one ItemFeatureLookup instead."""
    return ItemFeatureLookup(items_df)(video_id, date)

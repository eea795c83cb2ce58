"""Item features (f_item_*): the (video, day) grid of static item features and daily statistics as of
the day before (docs/data.md, "Leakage rules")."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vmrec.contracts import N_TAGS
from vmrec.features_common import FeatureBlock, column, log1p_pos, read_ingested, slug
from vmrec.localtime import yyyymmdd_to_day

log = logging.getLogger(__name__)

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
    ic = read_ingested(tables_dir, "item_categories")
    ic_v = column(ic, "video_id", np.int64)
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
    dt = read_ingested(tables_dir, "item_daily_features", daily_cols)
    dv = column(dt, "video_id", np.int64)
    dday = yyyymmdd_to_day(column(dt, "date"), "item_daily_features.date")
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
    ddur = column(dt, "video_duration")
    med = pd.Series(ddur).groupby(dvpos).median()
    dur_daily[med.index.to_numpy()] = med.to_numpy()
    duration = np.where(np.isnan(median_duration), dur_daily, median_duration)

    # daily statistics of each row
    play = np.nan_to_num(column(dt, "play_cnt"))
    stats: dict[str, tuple[np.ndarray, str]] = {}
    for c in DAILY_COUNTS:
        stats[f"log_{c}"] = (log1p_pos(column(dt, c)), f"log1p {c}")
    for name, num, den in DAILY_RATES:
        x = np.nan_to_num(column(dt, num))
        y = np.nan_to_num(column(dt, den))
        stats[name] = (np.clip(x / np.maximum(y, 1), 0, RATE_CLIP), f"{num} / max({den}, 1) (<= {RATE_CLIP})")
    avg_ratio = np.nan_to_num(column(dt, "play_duration")) / np.maximum(play, 1) / duration[dvpos]
    stats["avg_watch_ratio"] = (np.clip(np.nan_to_num(avg_ratio), 0, 10), "play_duration / play_cnt / dur.")
    stats["play_progress"] = (column(dt, "play_progress"), "play_progress")
    cum: dict[str, np.ndarray] = {}
    starts = np.maximum.accumulate(np.where(first, np.arange(len(dv)), 0))
    for c in CUM_COUNTS:
        cs = np.cumsum(np.nan_to_num(column(dt, c)))
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
    b = FeatureBlock(ng)
    b.add_filled("f_item_log_duration", (np.log(np.clip(duration, 1, None)) - np.log(1000.0))[gv],
                 "log video duration in seconds (median over the video's rows, else item_daily)")
    for t in range(N_TAGS):
        b.add(f"f_item_tag{t}", tags[gv, t], f"video has tag {t} (item_categories)")
    b.add("f_item_tags_missing", ~has_tags[gv], "1 if the video is absent from item_categories")
    b.add("f_item_is_ad", is_ad[gv], "video_type == AD")
    for cat in top:
        b.add(f"f_item_upload_{slug(cat)}", (utype == cat)[gv], f"upload_type == {cat}")
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

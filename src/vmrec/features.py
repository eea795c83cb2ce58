"""The leak-free edge table: one row per view of big and per observed pair of small, with features,
the four labels and the split (contracts.EDGE_ID_COLUMNS, LABEL_COLUMNS, FEATURE_GROUPS).

Leakage rules (docs/data.md, "Leakage rules"), and how the feature modules keep them:
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

Where the parts live: features_context (f_ctx_*), features_user (f_user_* and the user vocabularies),
features_item (the f_item_* grid and the item vocabularies), features_common (the feature block, table
reading, dates, UTC+8 local time), features_lookup (f_* columns of a table, item rows at (video, date)).
This module joins them into the edge table in named steps and re-exports their public names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from vmrec.contracts import EDGE_ID_COLUMNS, HEADS, N_TAGS, SPLITS
from vmrec.features_common import FeatureBlock, column, read_ingested, timed
from vmrec.features_context import context_features
from vmrec.features_item import (
    CUM_COUNTS,
    DAILY_COUNTS,
    DAILY_RATES,
    MAX_UPLOAD_TYPES,
    RATE_CLIP,
    item_feature_grid,
)
from vmrec.features_lookup import ItemFeatureLookup, feature_columns, feature_group, item_features_for
from vmrec.features_user import (
    ACTIVE_DEGREES,
    ONEHOT_MAX,
    ONEHOT_MAX_WIDTH,
    ONEHOT_NULLABLE,
    RANGE_ORDERS,
    USER_FLAGS,
    USER_NUMS,
    user_features,
)
from vmrec.io import atomic_path, write_parquet, write_text
from vmrec.labels import derive_labels
from vmrec.localtime import DAY_S, LOCAL_OFFSET_S, day_to_yyyymmdd, local_day, yyyymmdd_to_day

log = logging.getLogger(__name__)

CHUNK_ROWS = 500_000
"""Rows of the edge table assembled and written at a time (one Parquet row group each)."""

INTERACTION_READ = ("user_id", "video_id", "play_duration", "video_duration", "timestamp", "date", "csv_row")
SOURCES = ("big", "small")
"""The interaction matrices, in the order their rows appear in the edge table."""



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
    t = read_ingested(tables_dir, stem, INTERACTION_READ)
    return {
        "user_id": column(t, "user_id", np.int64),
        "video_id": column(t, "video_id", np.int64),
        "play_duration": column(t, "play_duration"),
        "video_duration": column(t, "video_duration"),
        "timestamp": column(t, "timestamp"),
        "date": column(t, "date"),
        "csv_row": column(t, "csv_row", np.int64),
    }


def _view_day(inter: dict[str, np.ndarray], stem: str) -> np.ndarray:
    """As-of day of each view: its date label, or the earlier local day of its timestamp (NaN if neither)."""
    dday = yyyymmdd_to_day(inter["date"], f"{stem}.date")
    lday = local_day(inter["timestamp"])
    return np.fmin(dday, lday)  # fmin ignores NaN on one side

EDGE_ID_FIELDS: dict[str, tuple[pa.DataType, str]] = {
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
"""Arrow type and description of each id column of edges.parquet (contracts.EDGE_ID_COLUMNS order)."""
if list(EDGE_ID_FIELDS) != list(EDGE_ID_COLUMNS):
    raise AssertionError(f"edge id columns {list(EDGE_ID_FIELDS)} differ from contracts "
                         f"{list(EDGE_ID_COLUMNS)}")


@dataclass
class _Rows:
    """Per-row values of the edge table's id and label columns: big's rows, then small's."""

    user_id: np.ndarray
    video_id: np.ndarray
    source_code: np.ndarray  # index into SOURCES
    csv_row: np.ndarray
    timestamp: np.ndarray  # NaN where the view has no time
    view_day: np.ndarray  # as-of day of the f_item_* (days since 1970-01-01; NaN until the grid fills it)
    split_code: np.ndarray  # index into contracts.SPLITS
    labels: dict[str, np.ndarray]  # HEADS -> int8

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass
class _Features:
    """The feature columns of the edge table, feature-major, in table order (ctx, user, item).

    Context features are stored per row; user and item features per user and per (video, day), with
    each row's position in them (upos, ipos)."""

    ctx: np.ndarray  # (k_ctx, n)
    user: np.ndarray  # (k_user, users + 1): the last column is the absent user
    upos: np.ndarray  # (n,)
    item: np.ndarray  # (k_item, videos * days)
    ipos: np.ndarray  # (n,)
    desc: dict[str, str]  # every feature column -> description, in table order

    @property
    def names(self) -> list[str]:
        return list(self.desc)


def read_interactions(tables_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """The INTERACTION_READ columns of big_matrix and small_matrix, as numpy arrays per source."""
    return {name: _interactions(tables_dir, f"{name}_matrix") for name in SOURCES}


def label_and_split(src: dict[str, dict[str, np.ndarray]], labels: Mapping[str, float],
                    split: Mapping[str, float]) -> tuple[_Rows, np.ndarray]:
    """The id, label and split values of every row, and the video duration of every row (for the item
    features). Drops the play and video durations from `src`: only ids, times and dates stay."""
    per_source = [derive_labels(s["play_duration"], s["video_duration"], labels) for s in src.values()]
    lab = {h: np.concatenate([ls[h] for ls in per_source]) for h in HEADS}
    del per_source
    n_small = len(src["small"]["user_id"])
    big_split = split_big(src["big"]["timestamp"], split["train_frac"], split["val_frac"])
    split_code = np.concatenate([big_split, np.full(n_small, SPLITS.index("small"), dtype=np.int8)])
    vday = np.concatenate([_view_day(s, f"{name}_matrix") for name, s in src.items()])
    video_all = np.concatenate([s["video_id"] for s in src.values()])
    dur_all = np.concatenate([s["video_duration"] for s in src.values()])
    for s in src.values():  # only ids, timestamps, csv rows and dates stay in memory
        for k in ("play_duration", "video_duration"):
            del s[k]
    sizes = [len(s["user_id"]) for s in src.values()]
    rows = _Rows(
        user_id=np.concatenate([s["user_id"] for s in src.values()]),
        video_id=video_all,
        source_code=np.repeat(np.arange(len(SOURCES), dtype=np.int8), sizes),
        csv_row=np.concatenate([s["csv_row"] for s in src.values()]),
        timestamp=np.concatenate([s["timestamp"] for s in src.values()]),
        view_day=vday,
        split_code=split_code,
        labels=lab,
    )
    return rows, dur_all


def context_columns(src: dict[str, dict[str, np.ndarray]]) -> tuple[np.ndarray, dict[str, str]]:
    """f_ctx_* of every row, feature-major (k, n), with their descriptions; all-zero flags dropped."""
    ctx_blocks = [context_features(s["user_id"], s["timestamp"], name) for name, s in src.items()]
    # feature-major (k, n): each column of a chunk is a contiguous slice
    ctx_t = np.stack([np.concatenate([b.cols[c] for b in ctx_blocks]) for c in ctx_blocks[0].cols])
    keep = _nonempty(list(ctx_blocks[0].desc), ctx_t.max(axis=1, initial=0))
    desc = {c: d for (c, d), k in zip(ctx_blocks[0].desc.items(), keep, strict=True) if k}
    return ctx_t[keep], desc


def user_columns(tables_dir: Path, user_all: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """f_user_* per user plus f_user_missing: (matrix users + 1 x k, the last row for users absent from
    user_features; each row's position in it; descriptions). All-zero flags of the rows' users dropped."""
    users, umat, udesc = user_features(tables_dir)
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
    udesc = {c: d for (c, d), k in zip(udesc.items(), keep, strict=True) if k}
    return umat[:, keep], upos, udesc


def item_grid_axes(tables_dir: Path, video_all: np.ndarray,
                   vday: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The item grid's sorted video ids (of the rows, item_daily_features and item_categories) and its
    consecutive days (days since 1970-01-01) from the first to the last date of the data."""
    daily_v = column(read_ingested(tables_dir, "item_daily_features", ["video_id"]), "video_id", np.int64)
    cat_v = column(read_ingested(tables_dir, "item_categories", ["video_id"]), "video_id", np.int64)
    videos = np.unique(np.concatenate([video_all, daily_v, cat_v]))
    daily_days = yyyymmdd_to_day(column(read_ingested(tables_dir, "item_daily_features", ["date"]), "date"),
                                 "item_daily_features.date")
    known = np.concatenate([vday[~np.isnan(vday)], daily_days[~np.isnan(daily_days)]])
    if known.size == 0:
        raise ValueError(f"no dates found in the tables of {tables_dir}")
    d0, d1 = int(known.min()), int(known.max())
    return videos, np.arange(d0, d1 + 1, dtype=np.int64)


def median_duration(n_videos: int, vpos: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Median video duration of each video's rows (NaN for videos without rows)."""
    med = pd.Series(duration).groupby(vpos).median()
    out = np.full(n_videos, np.nan)
    out[med.index.to_numpy()] = med.to_numpy()
    return out


def item_columns(tables_dir: Path, videos: np.ndarray, days: np.ndarray,
                 median_dur: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """f_item_* of the grid videos x days (video-major) with descriptions; all-zero flags dropped."""
    imat, idesc = item_feature_grid(tables_dir, videos, days, median_dur)
    keep = _nonempty(list(idesc), imat.max(axis=0, initial=0))
    idesc = {c: d for (c, d), k in zip(idesc.items(), keep, strict=True) if k}
    imat = imat[:, keep]
    log.info("item grid: %d videos x %d days (%s..%s), %d features", len(videos), len(days),
             day_to_yyyymmdd(days[:1])[0], day_to_yyyymmdd(days[-1:])[0], imat.shape[1])
    return imat, idesc


def write_item_table(videos: np.ndarray, days: np.ndarray, imat: np.ndarray, idesc: dict[str, str],
                     out_items: Path) -> None:
    """item_features.parquet: video_id, date (YYYYMMDD) and the f_item_* of every grid cell."""
    items = {"video_id": pa.array(np.repeat(videos, len(days)).astype(np.int32)),
             "date": pa.array(np.tile(day_to_yyyymmdd(days), len(videos)))}
    items.update({name: pa.array(imat[:, k]) for k, name in enumerate(idesc)})
    write_parquet(pa.table(items), out_items)


def label_descriptions(labels: Mapping[str, float]) -> dict[str, str]:
    """The rule of each head, with the configured thresholds (columns.csv)."""
    lc = {k: f"{float(v):g}" for k, v in labels.items()}
    return {
        "y_complete": f"play >= {lc['complete_ratio']} * duration",
        "y_long": f"play >= min(duration, {lc['long_seconds']} s)",
        "y_rewatch": f"play >= {lc['rewatch_ratio']} * duration",
        "y_neg": f"play < min({lc['neg_seconds']} s, duration)",
    }


def edge_schema(feature_names: Sequence[str]) -> pa.Schema:
    """Arrow schema of edges.parquet: id columns, int8 labels, float32 features."""
    fields = [pa.field(c, t) for c, (t, _) in EDGE_ID_FIELDS.items()]
    fields += [pa.field(h, pa.int8()) for h in HEADS]
    fields += [pa.field(f, pa.float32()) for f in feature_names]
    return pa.schema(fields)


def dictionary_columns(feats: _Features, user_names: Sequence[str], item_names: Sequence[str]) -> list[str]:
    """Columns worth dictionary encoding: the few-valued ones (small files without paying for it on
    continuous ones; user features take at most one value per user)."""
    ctx_binary = ((feats.ctx == 0) | (feats.ctx == 1)).all(axis=1)
    item_binary = ((feats.item == 0) | (feats.item == 1)).all(axis=1)
    n_ctx = feats.ctx.shape[0]
    return ["source", "split", *HEADS, *user_names,
            *(c for c, b in zip(feats.names[:n_ctx], ctx_binary, strict=True) if b),
            *(c for c, b in zip(item_names, item_binary, strict=True) if b)]


def write_edges(out_edges: Path, rows: _Rows, feats: _Features, low_card: Sequence[str]) -> None:
    """edges.parquet in chunks of CHUNK_ROWS rows (one row group each)."""
    schema = edge_schema(feats.names)
    n = len(rows)
    source_vocab, split_vocab = pa.array(list(SOURCES)), pa.array(list(SPLITS))
    date_all = day_to_yyyymmdd(rows.view_day)
    with atomic_path(out_edges) as tmp, pq.ParquetWriter(tmp, schema,
                                                          use_dictionary=list(low_card)) as writer:
        starts = range(0, max(n, 1), CHUNK_ROWS)
        for a in tqdm(starts, desc="edges", unit="chunk", mininterval=5):
            sl = slice(a, min(a + CHUNK_ROWS, n))
            ts = rows.timestamp[sl]
            cols: list[pa.Array] = [
                pa.array(np.arange(sl.start, sl.stop, dtype=np.int64)),
                pa.array(rows.user_id[sl].astype(np.int32)),
                pa.array(rows.video_id[sl].astype(np.int32)),
                source_vocab.take(pa.array(rows.source_code[sl])),
                pa.array(rows.csv_row[sl]),
                pa.array(ts, mask=np.isnan(ts)),
                pa.array(date_all[sl]),
                split_vocab.take(pa.array(rows.split_code[sl])),
            ]
            cols += [pa.array(rows.labels[h][sl]) for h in HEADS]
            cols += [pa.array(x) for x in feats.ctx[:, sl]]
            cols += [pa.array(x) for x in np.take(feats.user, feats.upos[sl], axis=1)]
            cols += [pa.array(x) for x in np.take(feats.item, feats.ipos[sl], axis=1)]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))


def write_column_dictionary(out_columns: Path, feature_desc: Mapping[str, str],
                            label_desc: Mapping[str, str]) -> None:
    """columns.csv: name, dtype, group and description of every column of edges.parquet."""
    rows = [(c, EDGE_ID_COLUMNS[c], "id", d) for c, (_, d) in EDGE_ID_FIELDS.items()]
    rows += [(h, "int8", "label", label_desc[h]) for h in HEADS]
    rows += [(f, "float32", feature_group(f), d) for f, d in feature_desc.items()]
    write_text(pd.DataFrame(rows, columns=["name", "dtype", "group", "description"]).to_csv(index=False),
               out_columns)


def build_edge_table(tables_dir: Path, out_edges: Path, out_columns: Path, out_items: Path,
                     labels: Mapping[str, float], split: Mapping[str, float]) -> None:
    """Write edges.parquet, columns.csv and item_features.parquet from the ingested tables."""
    tables_dir = Path(tables_dir)
    t_start = time.perf_counter()
    with timed("read interactions"):
        src = read_interactions(tables_dir)
    n_big, n_small = (len(src[s]["user_id"]) for s in SOURCES)
    log.info("rows: big %d, small %d", n_big, n_small)
    with timed("labels, split, view dates"):
        rows, dur_all = label_and_split(src, labels, split)
    with timed("context features"):
        ctx_t, desc = context_columns(src)
    del src
    with timed("user features"):
        umat, upos, udesc = user_columns(tables_dir, rows.user_id)
    with timed("item features"):
        videos, days = item_grid_axes(tables_dir, rows.video_id, rows.view_day)
        # undated small rows: the first day
        rows.view_day = np.where(np.isnan(rows.view_day), days[0], rows.view_day).astype(np.int64)
        vpos = np.searchsorted(videos, rows.video_id)
        median_dur = median_duration(len(videos), vpos, dur_all)
        del dur_all
        imat, idesc = item_columns(tables_dir, videos, days, median_dur)
        ipos = (vpos.astype(np.int64) * len(days) + (rows.view_day - days[0])).astype(np.int64)
        del vpos
    with timed("write item_features"):
        write_item_table(videos, days, imat, idesc, out_items)
    feats = _Features(ctx=ctx_t, user=np.ascontiguousarray(umat.T), upos=upos,
                      item=np.ascontiguousarray(imat.T), ipos=ipos, desc={**desc, **udesc, **idesc})
    del ctx_t, umat, imat
    with timed("write edges"):
        write_edges(out_edges, rows, feats, dictionary_columns(feats, list(udesc), list(idesc)))
    write_column_dictionary(out_columns, feats.desc, label_descriptions(labels))
    n_ctx, n_user, n_item = feats.ctx.shape[0], feats.user.shape[0], feats.item.shape[0]
    log.info("edge table: %d rows, %d features (%d ctx, %d user, %d item); total %.1f s", len(rows),
             len(feats.desc), n_ctx, n_user, n_item, time.perf_counter() - t_start)


__all__ = [
    "ACTIVE_DEGREES", "CHUNK_ROWS", "CUM_COUNTS", "DAILY_COUNTS", "DAILY_RATES", "DAY_S", "LOCAL_OFFSET_S",
    "MAX_UPLOAD_TYPES", "N_TAGS", "ONEHOT_MAX", "ONEHOT_MAX_WIDTH", "ONEHOT_NULLABLE", "RANGE_ORDERS",
    "RATE_CLIP", "USER_FLAGS", "USER_NUMS", "FeatureBlock", "ItemFeatureLookup", "build_edge_table",
    "context_features", "day_to_yyyymmdd", "feature_columns", "feature_group", "item_feature_grid",
    "item_features_for", "split_big", "user_features", "yyyymmdd_to_day",
]

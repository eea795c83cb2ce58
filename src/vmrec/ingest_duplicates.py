"""Exact duplicate rows of an interaction matrix: one definition, used by ingest (ingest.duplicates)
and by the sessions step (sessions.drop_duplicates).

Two views are exact duplicates when every CSV column is equal (EXACT_DUPLICATE_KEYS; `time` is not
compared: ingest checks it to equal `timestamp`, and the derived `time_local` follows `timestamp` too),
so they differ at most by their csv_row. The first row (lowest csv_row) of each group is the original,
every later one a duplicate. big_matrix holds such rows on purpose (docs/data.md, "Quirks the loader
handles")."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

EXACT_DUPLICATE_KEYS: tuple[str, ...] = (
    "user_id", "video_id", "play_duration", "video_duration", "timestamp", "date", "watch_ratio",
)
"""Columns compared for exact duplicates: every CSV column of an interaction matrix but `time`."""
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def row_hash(user: np.ndarray, video: np.ndarray, play: np.ndarray, vdur: np.ndarray,
             ts: np.ndarray) -> np.ndarray:
    """A 64-bit hash of (user, video, play, duration, timestamp) per row; equal rows hash equal.

    Only a filter: rows are compared column by column before they count as duplicates."""
    with np.errstate(over="ignore"):
        h = (user.astype(np.uint64) << np.uint64(32)) ^ video.astype(np.uint64)
        h *= _MIX
        h ^= ts.view(np.uint64)  # nulls were filled with the same value
        h *= _MIX
        h ^= play.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + vdur.astype(np.uint64)
        h *= _MIX
        h ^= h >> np.uint64(31)
    return h


def _to_numpy(arr: pa.ChunkedArray | pa.Array, fill: object = 0) -> np.ndarray:
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return arr.to_numpy()


def table_hash(table: pa.Table) -> np.ndarray:
    """row_hash of every row of an interaction table."""
    return row_hash(_to_numpy(table["user_id"]), _to_numpy(table["video_id"]),
                    _to_numpy(table["play_duration"]), _to_numpy(table["video_duration"]),
                    _to_numpy(table["timestamp"], np.nan))


def duplicate_mask(table: pa.Table, h: np.ndarray | None = None) -> np.ndarray:
    """True for rows of an interaction table that exactly repeat an earlier row (EXACT_DUPLICATE_KEYS).

    The row hash `h` (computed block by block while reading) finds the candidates: a SIMD sort finds the
    hash values that repeat, far faster than a hash table over all rows. Each candidate is then compared
    column by column with the first row of its hash, so the result is exact (a hash collision only costs
    a slower exact pass)."""
    import pandas as pd

    h = table_hash(table) if h is None else h
    dup = np.zeros(len(h), dtype=bool)
    s = np.sort(h)
    repeated = s[1:][s[1:] == s[:-1]]
    del s
    if not len(repeated):
        return dup
    rows = np.flatnonzero(pd.Series(h, copy=False).isin(repeated).to_numpy())  # rows in repeated groups
    codes, uniques = pd.factorize(h[rows])
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(rows) - 1, -1, -1)  # the earliest row of each hash wins
    later = first[codes] != np.arange(len(rows))
    cand = pa.array(rows[later])
    ref = pa.array(rows[first[codes[later]]])
    same = np.ones(len(cand), dtype=bool)
    for k in EXACT_DUPLICATE_KEYS:
        a, b = table[k].take(cand), table[k].take(ref)
        eq = pc.fill_null(pc.equal(a, b), False)
        if a.null_count or b.null_count:
            eq = pc.or_(eq, pc.and_(pc.is_null(a), pc.is_null(b)))
        same &= eq.to_numpy(zero_copy_only=False)
    if same.all():
        dup[cand.to_numpy()] = True
        return dup
    log.warning("row-hash collision among %d rows: exact duplicate pass", int((~same).sum()))
    return exact_duplicates(table.select(list(EXACT_DUPLICATE_KEYS)).to_pandas())


def exact_duplicates(df: pd.DataFrame) -> np.ndarray:
    """True for rows of a frame (in csv_row order) that repeat an earlier row in EXACT_DUPLICATE_KEYS;
    keys the frame lacks are not compared."""
    keys = [c for c in EXACT_DUPLICATE_KEYS if c in df.columns]
    return df.duplicated(subset=keys, keep="first").to_numpy()

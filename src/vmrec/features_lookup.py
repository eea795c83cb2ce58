"""Lookups on the feature tables for downstream stages: the f_* columns of an edge table and its
groups, and the f_item_* rows of item_features.parquet at (video_id, date) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vmrec.contracts import FEATURE_GROUPS, FEATURE_PREFIX


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

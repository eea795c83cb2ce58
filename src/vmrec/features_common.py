"""Shared pieces of the feature builders: the feature block, reading the ingested tables, dates and
local time (Asia/Shanghai, UTC+8), small transforms."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

log = logging.getLogger(__name__)



@contextmanager
def timed(what: str) -> Any:
    """Log how long the block took."""
    t0 = time.perf_counter()
    yield
    log.info("%s: %.1f s", what, time.perf_counter() - t0)


class FeatureBlock:
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


def read_ingested(tables_dir: Path, stem: str, columns: Sequence[str] | None = None) -> pa.Table:
    """The ingested table `stem` (all or some columns), tagged with its stem for error messages."""
    path = Path(tables_dir) / f"{stem}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"ingested table {stem} not found: expected {path}")
    table = pq.read_table(path, columns=list(columns) if columns is not None else None)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"vmrec_stem": stem.encode()})


def column(table: pa.Table, name: str, dtype: Any = np.float64) -> np.ndarray:
    """Column as a numpy array; nulls become NaN (float dtypes) - so ask for float where nullable."""
    col = table.column(name)
    where = f"{(table.schema.metadata or {}).get(b'vmrec_stem', b'?').decode()}.{name}"
    if np.issubdtype(np.dtype(dtype), np.floating):
        col = pc.cast(col, pa.float64())
        return col.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    if col.null_count:
        raise ValueError(f"column {where}: {col.null_count} null values where none are allowed")
    return col.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def slug(value: str) -> str:
    """A category value as a column-name fragment (lower case, runs of other characters -> _)."""
    return re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "empty"


def log1p_pos(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(x, 0, None))

"""Conversion of parsed CSV blocks to the contract types, with the value checks of each column and the
derived time columns of the interaction matrices (docs/data.md, "Quirks the loader handles")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vmrec.contracts import TIMEZONE
from vmrec.ingest_duplicates import row_hash
from vmrec.ingest_readers import CR_PLACEHOLDER, INT_BOUNDS, MAX_SHOWN, Where, check_mask, fail
from vmrec.ingest_specs import MATRIX_RULES, Col, FileSpec

WATCH_RATIO_RTOL = 1e-9
"""watch_ratio is written as the full float64 repr of play/duration: allow only float rounding."""
TIME_TOL_MS = 1
"""`time` (local wall clock text) must equal `timestamp` in Asia/Shanghai within this many ms."""
_INT_LIST = re.compile(r"^\[\s*(-?\d+(?:\s*,\s*-?\d+)*)?\s*\]$")


# --- conversion and validation -------------------------------------------------------------------------
def to_numpy(arr: pa.ChunkedArray | pa.Array, fill: object = 0) -> np.ndarray:
    """Numpy view of an Arrow column with nulls filled."""
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return arr.to_numpy()


def null_mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if not arr.null_count:
        return np.zeros(len(arr), dtype=bool)
    return pc.is_null(arr).to_numpy(zero_copy_only=False)


def _parse_list(where: Where, col: Col, arr: pa.ChunkedArray, out: pa.DataType) -> pa.Array:
    """Parse list literals (`[8]`, `[27, 9]`, `[a,b,c]`, `[]`) without eval."""
    values: list[list | None] = []
    for row, s in enumerate(arr.to_pylist()):
        if s is None or s in col.null_tokens:
            values.append(None)
            continue
        s = s.strip()
        if col.kind == "list_int":
            m = _INT_LIST.match(s)
            if not m:
                fail(where, col.name, [row], [s], "a list of integers like [8] or [27, 9]")
            items = [int(x) for x in m.group(1).split(",")] if m.group(1) else []
            lo = col.min if col.min is not None else -np.inf
            hi = min(col.max if col.max is not None else np.inf, INT_BOUNDS[out.value_type] - 1)
            if any(not lo <= x <= hi for x in items):
                fail(where, col.name, [row], [s], f"list items in [{lo:g}, {hi:g}]")
        else:
            if not (s.startswith("[") and s.endswith("]")):
                fail(where, col.name, [row], [s], "a list like [a,b,c] or []")
            inner = s[1:-1].strip()
            items = [t.strip() for t in inner.split(",")] if inner else []
            if any(t == "" for t in items):
                fail(where, col.name, [row], [s], "a list without empty items")
        values.append(items)
    return pa.array(values, type=out)


def convert_column(where: Where, col: Col, arr: pa.ChunkedArray, f: pa.Field) -> pa.Array | pa.ChunkedArray:
    """Convert a parsed column to its contract type, applying null tokens and value checks."""
    t = f.type
    if col.kind in ("list_int", "list_str"):
        out = _parse_list(where, col, arr, t)
    elif pa.types.is_string(t):
        out = arr
        if col.null_tokens:
            out = pc.if_else(pc.is_in(out, pa.array(col.null_tokens)), pa.scalar(None, pa.string()), out)
        if where.cr_replaced:
            out = pc.replace_substring(out, CR_PLACEHOLDER, "\r")
        if col.allowed is not None:
            bad = pc.and_(pc.invert(pc.is_in(out, pa.array(col.allowed))), pc.is_valid(out))
            check_mask(where, col.name, bad.to_numpy(zero_copy_only=False), out,
                        f"one of {list(col.allowed)}")
    elif pa.types.is_integer(t) and pa.types.is_floating(arr.type):
        x = to_numpy(arr, np.nan)
        nulls = np.isnan(x)
        for code in col.null_ints:
            nulls |= x == code
        frac = ~nulls & ((x != np.floor(x)) | ~np.isfinite(x))
        check_mask(where, col.name, frac, x, f"an integer ({t})")
        lim = INT_BOUNDS[t]
        check_mask(where, col.name, ~nulls & ((x < -lim) | (x >= lim)), x, f"an integer within {t}")
        out = pa.array(np.where(nulls, 0, x).astype(t.to_pandas_dtype()), type=t,
                       mask=nulls if nulls.any() else None)
    else:
        out = arr
    if pa.types.is_floating(t):
        x = to_numpy(out, 0.0)
        check_mask(where, col.name, ~np.isfinite(x), x, "a finite number")
    if not f.nullable and out.null_count:
        bad = null_mask(out)
        check_mask(where, col.name, bad, None, "a value (no empty field)")
    if (col.min is not None or col.max is not None) and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        x = to_numpy(out, col.min if col.min is not None else 0)
        lo = col.min if col.min is not None else -np.inf
        hi = col.max if col.max is not None else np.inf
        bad = (x <= lo) if col.min_exclusive else (x < lo)
        bad |= x > hi
        op = ">" if col.min_exclusive else ">="
        check_mask(where, col.name, bad, x, f"values {op} {lo:g}" + (f" and <= {hi:g}" if col.max is not None
                                                                      else ""))
    return out


def _civil_days(yyyymmdd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of YYYYMMDD integers, and whether each is a real calendar date."""
    y, md = np.divmod(yyyymmdd, 10000)
    m, d = np.divmod(md, 100)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    mdays = month_days[np.clip(m, 0, 12)] + (leap & (m == 2))
    valid = (y >= 1970) & (y <= 2100) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= mdays)
    # days_from_civil (H. Hinnant), vectorised
    yy = y - (m <= 2)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468, valid


@dataclass
class MatrixStats:
    rows: int = 0
    no_time: int = 0
    date_mismatch: int = 0
    hashes: list[np.ndarray] = field(default_factory=list)  # row_hash of each block


def convert_matrix(where: Where, spec: FileSpec, raw: pa.Table, schema: pa.Schema, row0: int,
                    stats: MatrixStats) -> pa.Table:
    """Validate one block of an interaction matrix and derive time_local, date and csv_row."""
    n = raw.num_rows
    cols = {name: convert_column(where, rule, raw[name], schema.field(name))
            for name, rule in MATRIX_RULES.items()}
    p = to_numpy(cols["play_duration"]).astype(np.float64)
    d = to_numpy(cols["video_duration"]).astype(np.float64)
    wr = to_numpy(cols["watch_ratio"])
    expected = p / d
    bad = np.abs(wr - expected) > WATCH_RATIO_RTOL * np.abs(expected) + 1e-12
    check_mask(where, "watch_ratio", bad, wr, "watch_ratio == play_duration / video_duration")

    ts_arr, date_arr, time_arr = raw["timestamp"], raw["date"], raw["time"]
    ts_null, date_null, time_null = null_mask(ts_arr), null_mask(date_arr), null_mask(time_arr)
    if spec.time_required:
        for name, nulls in (("timestamp", ts_null), ("date", date_null), ("time", time_null)):
            check_mask(where, name, nulls, None, "a value (no empty field)")
    else:
        odd = (ts_null != date_null) | (ts_null != time_null)
        check_mask(where, "timestamp", odd, ts_arr,
                    "time, date and timestamp to be all empty or all present")
    ts = to_numpy(ts_arr, 0.0)
    check_mask(where, "timestamp", ~np.isfinite(ts) | (ts < 0), ts, "finite epoch seconds >= 0")
    ts_ms = np.rint(ts * 1000.0).astype(np.int64)
    local = pa.array(ts_ms, type=pa.int64(), mask=ts_null if ts_null.any() else None).cast(
        pa.timestamp("ms", tz=TIMEZONE))
    local_naive = pc.local_timestamp(local)  # wall clock in Asia/Shanghai
    local_ms = to_numpy(local_naive.cast(pa.int64()))
    time_ms = to_numpy(time_arr.cast(pa.int64()))
    bad = ~ts_null & (np.abs(time_ms - local_ms) > TIME_TOL_MS)
    check_mask(where, "time", bad, time_arr, f"time == timestamp in {TIMEZONE} (within {TIME_TOL_MS} ms)")

    # a block holds a few dozen distinct dates: validate those, then map every row by hash lookup
    distinct = pc.unique(date_arr).drop_null()
    dist_f = distinct.to_numpy()
    bad_f = (dist_f != np.floor(dist_f)) | ~np.isfinite(dist_f)
    if bad_f.any():
        check_mask(where, "date", pc.is_in(date_arr, distinct.filter(pa.array(bad_f))).to_numpy(
            zero_copy_only=False), date_arr, "an integer date YYYYMMDD")
    dist_days, valid = _civil_days(dist_f.astype(np.int64))
    if not valid.all():
        check_mask(where, "date", pc.is_in(date_arr, distinct.filter(pa.array(~valid))).to_numpy(
            zero_copy_only=False), date_arr, "a calendar date YYYYMMDD")
    pos = to_numpy(pc.index_in(date_arr, value_set=distinct), 0)
    date_i = dist_f.astype(np.int32)[pos] if len(dist_f) else np.zeros(n, np.int32)
    days = dist_days[pos] if len(dist_f) else np.zeros(n, np.int64)
    local_days = np.floor_divide(local_ms, 86_400_000)
    stats.date_mismatch += int((~date_null & (days != local_days)).sum())
    stats.no_time += int(ts_null.sum())
    stats.rows += n
    stats.hashes.append(row_hash(to_numpy(cols["user_id"]), to_numpy(cols["video_id"]),
                                 to_numpy(cols["play_duration"]), to_numpy(cols["video_duration"]),
                                 np.where(ts_null, np.nan, ts)))

    arrays = {
        **cols,
        "timestamp": ts_arr,
        "time_local": local,
        "date": pa.array(date_i, type=pa.int32(), mask=date_null if date_null.any() else None),
        "csv_row": pa.array(np.arange(row0, row0 + n, dtype=np.int64)),
    }
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def check_unique(where: Where, table: pa.Table, keys: tuple[str, ...]) -> None:
    if not keys:
        return
    grouped = table.select(list(keys)).group_by(list(keys), use_threads=False).aggregate([])
    if grouped.num_rows == table.num_rows:
        return
    df = table.select(list(keys)).to_pandas()
    dup = df.duplicated(keep=False).to_numpy()
    idx = np.flatnonzero(dup)
    vals = [tuple(r) for r in df.iloc[idx[:MAX_SHOWN]].itertuples(index=False)]
    fail(where, "+".join(keys), idx[:MAX_SHOWN], vals, f"unique ({', '.join(keys)})", total=len(idx))


"""Ingest: the seven raw KuaiRec 2.0 CSVs -> typed, validated Parquet tables (one per CSV).

The same loader reads the real release and the synthetic look-alike; nothing here knows which one it
reads. Output column names, order, Arrow types and nullability are those of
`vmrec.contracts.TABLE_COLUMNS`; this module decides how each column is parsed and validated.

Quirks of the release handled here (see docs/KUAIREC.md):
  * `time` has 1-3 fractional digits; `timestamp` (UTC epoch seconds) is the source of truth and
    `time_local` is derived from it in Asia/Shanghai; `time` is only checked against it.
  * small_matrix writes `date` as a float (`20200705.0`) and has rows with empty time/date/timestamp.
  * nullable integers are empty fields (and may be written as floats, `3.0`).
  * kuairec_caption_category.csv has bare `\\r` bytes inside unquoted captions: they are kept as text.
  * list columns (`[8]`, `"[27, 9]"`, topic_tag `[a,b,c]` with unquoted tokens) are parsed without eval.
  * the text `UNKNOWN` and the category id `-124` mark missing values -> null.
  * big_matrix holds exact duplicate rows on purpose: `duplicates="keep"` keeps them, `"drop"` keeps
    the first of each group (csv_row still points at the original CSV row).

Errors name the file, the column, the 1-based line numbers of the CSV (header = line 1) and a few
offending values. `ingest_all` writes every table to a temp file and renames them only when all seven
succeeded, so a failure leaves no output behind. The raw files are only ever opened for reading.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from vmrec.contracts import RAW_FILES, TABLE_COLUMNS, TIMEZONE

log = logging.getLogger(__name__)

DUPLICATE_POLICIES = ("keep", "drop")
CHUNK_BYTES = 64 << 20
"""Block size of the block-wise reader of the two interaction matrices (bounds memory, locates errors)."""
WATCH_RATIO_RTOL = 1e-9
"""watch_ratio is written as the full float64 repr of play/duration: allow only float rounding."""
TIME_TOL_MS = 1
"""`time` (local wall clock text) must equal `timestamp` in Asia/Shanghai within this many ms."""
MAX_DATE_MISMATCH_FRAC = 0.01
"""`date` disagrees with the local date of `timestamp` on ~0.12% of real big rows; far more means the
columns are wrong (shifted, swapped, another zone), so the step stops."""
MAX_SHOWN = 5
"""Offending rows shown in an error message."""

_LONE_CR = re.compile(rb"\r(?!\n)")
_CR_PLACEHOLDER = "\ue000"  # a private-use character stands in for a bare \r while Arrow parses
_INT_LIST = re.compile(r"^\[\s*(-?\d+(?:\s*,\s*-?\d+)*)?\s*\]$")

MATRIX_HEADER: tuple[str, ...] = (
    "user_id", "video_id", "play_duration", "video_duration", "time", "date", "timestamp", "watch_ratio",
)


class IngestError(ValueError):
    """A raw file does not have the expected format; the message says file, column, lines, values."""


# --- column specs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """How one CSV column is parsed and validated; output type/nullability come from contracts."""

    name: str
    kind: str = "auto"  # auto (from the contract type) | list_int | list_str | time
    min: float | None = None  # inclusive lower bound
    min_exclusive: bool = False
    max: float | None = None  # inclusive upper bound
    allowed: tuple[str, ...] | None = None  # allowed values of a string column (after null tokens)
    null_tokens: tuple[str, ...] = ()  # text values meaning "missing" (-> null)
    null_ints: tuple[int, ...] = ()  # integer codes meaning "missing" (-> null)


@dataclass(frozen=True)
class FileSpec:
    """One raw CSV: its header, per-column rules and table-level checks."""

    stem: str
    header: tuple[str, ...]
    cols: dict[str, Col] = field(default_factory=dict)
    unique: tuple[str, ...] = ()  # columns whose combination must be unique
    matrix: bool = False  # an interaction matrix: block-wise reading and derived time columns
    time_required: bool = False  # matrix only: time/date/timestamp may not be empty

    @property
    def file(self) -> str:
        return f"{self.stem}.csv"

    def col(self, name: str) -> Col:
        return self.cols.get(name, Col(name))


def _spec(stem: str, cols: Sequence[Col] = (), header: Sequence[str] | None = None, **kw) -> FileSpec:
    return FileSpec(stem, tuple(header or TABLE_COLUMNS[stem]), {c.name: c for c in cols}, **kw)


_NONNEG = {"min": 0}
_CAPTION_TEXT = ("manual_cover_text", "caption", "first_level_category_name",
                 "second_level_category_name", "third_level_category_name")
_CATEGORY_IDS = ("first_level_category_id", "second_level_category_id", "third_level_category_id")

SPECS: dict[str, FileSpec] = {
    s.stem: s
    for s in (
        _spec("big_matrix", header=MATRIX_HEADER, matrix=True, time_required=True),
        _spec("small_matrix", header=MATRIX_HEADER, matrix=True, time_required=False),
        _spec("social_network", [Col("user_id", **_NONNEG), Col("friend_list", "list_int", min=0)],
              unique=("user_id",)),
        _spec("item_categories", [Col("video_id", **_NONNEG), Col("feat", "list_int", min=0)],
              unique=("video_id",)),
        _spec(
            "user_features",
            [
                Col("user_id", **_NONNEG),
                Col("user_active_degree", null_tokens=("UNKNOWN",),
                    allowed=("high_active", "full_active", "middle_active")),
                *(Col(c, min=0, max=1) for c in ("is_lowactive_period", "is_live_streamer",
                                                 "is_video_author")),
                *(Col(c, **_NONNEG) for c in ("follow_user_num", "fans_user_num", "friend_user_num",
                                             "register_days")),
                *(Col(f"onehot_feat{k}", **_NONNEG) for k in range(18)),
            ],
            unique=("user_id",),
        ),
        _spec(
            "item_daily_features",
            [Col("video_id", **_NONNEG), Col("author_id", **_NONNEG),
             *(Col(c, null_tokens=("UNKNOWN",)) for c in ("video_type", "upload_type", "visible_status",
                                                          "video_tag_name"))],
            unique=("video_id", "date"),
        ),
        _spec(
            "kuairec_caption_category",
            [Col("video_id", **_NONNEG),
             *(Col(c, null_tokens=("UNKNOWN",)) for c in _CAPTION_TEXT),
             Col("topic_tag", "list_str", null_tokens=("UNKNOWN",)),
             *(Col(c, null_ints=(-124,), min=0) for c in _CATEGORY_IDS)],
            unique=("video_id",),
        ),
    )
}
assert {f"{s}.csv" for s in SPECS} == set(RAW_FILES), "every raw file needs a spec"

_MATRIX_RULES: dict[str, Col] = {
    "user_id": Col("user_id", min=0),
    "video_id": Col("video_id", min=0),
    "play_duration": Col("play_duration", min=0),
    "video_duration": Col("video_duration", min=0, min_exclusive=True),
    "watch_ratio": Col("watch_ratio", min=0),
}
"""Value rules of the interaction matrices' plain columns (time columns are checked together)."""


# --- contract types --------------------------------------------------------------------------------
_SIMPLE_TYPES: dict[str, pa.DataType] = {
    "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "float32": pa.float32(), "float64": pa.float64(), "string": pa.string(), "bool": pa.bool_(),
    "date32": pa.date32(),
}


def arrow_type(name: str) -> pa.DataType:
    """Arrow type of a contract type string (`int32`, `list<int8>`, `timestamp[ms, tz=...]`; no `?`)."""
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name.startswith("list<") and name.endswith(">"):
        return pa.list_(arrow_type(name[5:-1]))
    m = re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]", name)
    if m:
        return pa.timestamp(m.group(1), tz=m.group(2))
    raise ValueError(f"unknown contract type {name!r}")


def type_string(t: pa.DataType) -> str:
    """Inverse of arrow_type: the contract spelling of an Arrow type."""
    if pa.types.is_list(t):
        return f"list<{type_string(t.value_type)}>"
    if pa.types.is_date32(t):
        return "date32"
    return {"double": "float64", "float": "float32", "halffloat": "float16"}.get(str(t), str(t))


def contract_schema(stem: str) -> pa.Schema:
    """The Arrow schema (types and nullability) that the table `stem` must have."""
    return pa.schema(
        pa.field(name, arrow_type(t.rstrip("?")), nullable=t.endswith("?"))
        for name, t in TABLE_COLUMNS[stem].items()
    )


def schema_strings(schema: pa.Schema) -> dict[str, str]:
    """Contract strings ({column: 'type' or 'type?'}) of a schema, to compare with TABLE_COLUMNS."""
    return {f.name: type_string(f.type) + ("?" if f.nullable else "") for f in schema}


# --- locating rows ------------------------------------------------------------------------------------
class _Where:
    """Maps 0-based data rows of a parsed block to 1-based physical line numbers of the CSV."""

    def __init__(self, path: Path, first_line: int, one_row_per_line: bool, data: bytes | None = None,
                 cr_replaced: bool = False):
        self.path = path
        self.cr_replaced = cr_replaced  # bare \r bytes were replaced by _CR_PLACEHOLDER before parsing
        self.first_line = first_line  # line of the block's first data row
        self.one_row_per_line = one_row_per_line
        self.data = data  # the block's bytes (after the header) when rows may span lines
        self._starts: list[int] | None = None

    def lines(self, rows: Sequence[int]) -> list[int]:
        rows = [int(r) for r in rows]
        if self.one_row_per_line or self.data is None or b'"' not in self.data:
            return [self.first_line + r for r in rows]
        if self._starts is None:
            self._starts = [line for line, _ in _records(self.data, self.first_line)]
        return [self._starts[r] if r < len(self._starts) else self.first_line + r for r in rows]


def _physical_lines(data: bytes, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the line ending) for each \\n-terminated line of `data`."""
    start = 0
    line = first_line
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            end = n
        yield line, data[start:end].removesuffix(b"\r")
        start = end + 1
        line += 1


def _records(data: bytes, first_line: int) -> Iterator[tuple[int, list[str]]]:
    """(first line, fields) of each CSV record of `data`, with the csv module (slow: diagnosis only)."""
    state = {"line": first_line - 1}

    def text_lines() -> Iterator[str]:
        for line, raw in _physical_lines(data, first_line):
            state["line"] = line
            yield raw.decode("utf-8", errors="replace").replace("\r", _CR_PLACEHOLDER) + "\n"

    reader = csv.reader(text_lines(), strict=False)
    start = first_line
    for fields in reader:
        yield start, fields
        start = state["line"] + 1


# --- errors ------------------------------------------------------------------------------------------
def _shorten(value: object, width: int = 40) -> str:
    s = repr(value)
    return s if len(s) <= width else s[: width - 3] + "..."


def _fail(where: _Where, column: str | None, rows: np.ndarray | Sequence[int], values: Sequence[object],
          expected: str, total: int | None = None) -> None:
    """Raise IngestError naming file, column, lines and values of the offending rows."""
    rows = list(rows)
    n = len(rows) if total is None else total
    shown = rows[:MAX_SHOWN]
    lines = where.lines(shown)
    shown_values = list(values)[:MAX_SHOWN]
    pairs = ", ".join(f"line {ln}: {_shorten(v)}" for ln, v in zip(lines, shown_values, strict=False))
    col = f", column '{column}'" if column else ""
    raise IngestError(f"{where.path}{col}: expected {expected}; {n} row(s) violate it ({pairs})")


def _check_mask(where: _Where, column: str, bad: np.ndarray, values: np.ndarray | pa.ChunkedArray | None,
                expected: str) -> None:
    """Fail if any entry of the mask `bad` is set; `values` (None: empty fields) are read only then."""
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = idx[:MAX_SHOWN]
        if values is None:
            vals = [""] * len(shown)
        elif isinstance(values, np.ndarray):
            vals = values[shown].tolist()
        else:
            vals = values.take(pa.array(shown)).to_pylist()
        _fail(where, column, shown, vals, expected, total=len(idx))


# --- header ------------------------------------------------------------------------------------------
def _read_header(path: Path, spec: FileSpec) -> int:
    """Check the header line against the expected one; return its length in bytes (with the newline)."""
    with open(path, "rb") as f:
        first = f.readline(1 << 20)
    expected = ",".join(spec.header)
    if not first:
        raise IngestError(f"{path}: file is empty (0 bytes); expected the header line '{expected}' "
                          f"followed by data rows")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IngestError(f"{path}: line 1 (header) is not valid UTF-8 at byte {e.start}: "
                          f"{first[max(0, e.start - 10): e.start + 10]!r}") from None
    text = text.removeprefix("\ufeff").rstrip("\r\n")
    found = [c.strip() for c in text.split(",")]
    if found != list(spec.header):
        missing = [c for c in spec.header if c not in found]
        unexpected = [c for c in found if c not in spec.header]
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if unexpected:
            parts.append(f"unexpected column(s) {unexpected}")
        if not parts:
            parts.append("columns in a different order")
        raise IngestError(f"{path}, line 1 (header): {'; '.join(parts)}; expected header '{expected}', "
                          f"found '{text}'")
    if first.startswith(b"\xef\xbb\xbf"):
        raise IngestError(f"{path}: line 1 starts with a UTF-8 byte order mark; the release has none")
    return len(first)


# --- parsing -----------------------------------------------------------------------------------------
def _csv_type(spec: FileSpec, name: str, contract: pa.Field) -> pa.DataType:
    """The type Arrow parses a CSV column as (before our own conversion to the contract type)."""
    col = spec.col(name)
    if spec.matrix:
        return {"time": pa.timestamp("ms"), "date": pa.float64(), "timestamp": pa.float64()}.get(
            name, contract.type)
    if col.kind in ("list_int", "list_str"):
        return pa.string()
    t = contract.type
    if pa.types.is_integer(t) and (contract.nullable or col.null_ints):
        return pa.float64()  # nullable ints: empty fields and float spellings (3.0) parse as float
    return t


def _options(spec: FileSpec, schema: pa.Schema, header_row: bool, multiline: bool) -> tuple:
    names = list(spec.header)
    fields = {f.name: f for f in schema}
    types = {}
    for name in names:
        if name in fields:
            types[name] = _csv_type(spec, name, fields[name])
        elif spec.matrix and name == "time":
            types[name] = pa.timestamp("ms")
    read = pa_csv.ReadOptions(column_names=names, skip_rows=1 if header_row else 0, use_threads=True,
                              block_size=4 << 20)
    parse = pa_csv.ParseOptions(newlines_in_values=multiline, ignore_empty_lines=False)
    convert = pa_csv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                    quoted_strings_can_be_null=True, check_utf8=True)
    return read, parse, convert


_INT_RE = re.compile(r"^[+-]?\d+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,3})?$")
_INT_BOUNDS = {pa.int8(): 2**7, pa.int16(): 2**15, pa.int32(): 2**31, pa.int64(): 2**63}


def _field_problem(value: str, t: pa.DataType) -> str | None:
    """Why `value` cannot be parsed as Arrow type `t` (None if it can). Empty fields are nulls."""
    if value == "":
        return None
    if pa.types.is_integer(t):
        if not _INT_RE.match(value):
            return f"an integer ({t})"
        if not -_INT_BOUNDS[t] <= int(value) < _INT_BOUNDS[t]:
            return f"an integer within the range of {t}"
    elif pa.types.is_floating(t):
        try:
            float(value)
        except ValueError:
            return "a number"
    elif pa.types.is_date32(t):
        if not _DATE_RE.match(value):
            return "a date YYYY-MM-DD"
    elif pa.types.is_timestamp(t):
        if not _TIME_RE.match(value):
            return "a time 'YYYY-MM-DD hh:mm:ss[.fff]'"
    return None


def _diagnose(path: Path, spec: FileSpec, types: dict[str, pa.DataType], data: bytes, first_line: int,
              ends_file: bool, arrow_error: Exception) -> IngestError:
    """Find the exact line/column of what made Arrow reject `data` (a Python scan: error path only)."""
    for line, raw in _physical_lines(data, first_line):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            col_idx = raw[: e.start].count(b",")
            name = spec.header[col_idx] if col_idx < len(spec.header) else f"#{col_idx + 1}"
            return IngestError(
                f"{path}, column '{name}', line {line}: invalid UTF-8 byte {raw[e.start:e.start + 1]!r} at "
                f"byte {e.start} of the line ({raw[max(0, e.start - 20): e.start + 20]!r}); "
                f"the files are UTF-8")
    n = len(spec.header)
    last_line = first_line + data.count(b"\n") - (1 if data.endswith(b"\n") else 0)
    for start, fields in _records(data, first_line):
        if len(fields) != n:
            hint = ""
            if ends_file and data and not data.endswith(b"\n") and start == last_line:
                hint = " (the file ends in the middle of this line: truncated?)"
            return IngestError(
                f"{path}, line {start}: expected {n} fields ({','.join(spec.header)}), found {len(fields)}"
                f"{hint}: {_shorten(','.join(fields), 120)}")
        for name, value in zip(spec.header, fields, strict=True):
            problem = _field_problem(value, types[name])
            if problem:
                return IngestError(f"{path}, column '{name}', line {start}: expected {problem}, "
                                   f"found {_shorten(value)}")
    return IngestError(f"{path}: Arrow could not parse lines {first_line}..{last_line}: {arrow_error}")


def _parse(path: Path, spec: FileSpec, schema: pa.Schema, data: bytes | pa.Buffer, first_line: int,
           header_row: bool, ends_file: bool) -> pa.Table:
    """Parse one block of CSV bytes with Arrow; on failure raise an IngestError that locates the problem."""
    read, parse, convert = _options(spec, schema, header_row, multiline=not spec.matrix)
    buf = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    try:
        return pa_csv.read_csv(pa.BufferReader(buf), read_options=read, parse_options=parse,
                               convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        data = buf.to_pybytes()
        body = data.split(b"\n", 1)[1] if header_row and b"\n" in data else (b"" if header_row else data)
        raise _diagnose(path, spec, convert.column_types, body, first_line, ends_file, e) from None


def _read_blocks(path: Path, spec: FileSpec, schema: pa.Schema) -> Iterator[tuple[pa.Table, _Where, bool]]:
    """Yield (parsed block, its row->line map, whether bare \\r were replaced) for the file.

    Interaction matrices (numeric, one row per line) are read in blocks of CHUNK_BYTES cut at line ends;
    the other files are small enough to read whole (their quoted fields may span lines)."""
    header_len = _read_header(path, spec)
    size = path.stat().st_size
    if not spec.matrix:
        data = path.read_bytes()
        replaced = b"\r" in data and bool(_LONE_CR.search(data))
        if replaced:
            if _CR_PLACEHOLDER.encode() in data:
                raise IngestError(f"{path}: contains U+E000, which the loader reserves for bare \\r bytes")
            data = _LONE_CR.sub(_CR_PLACEHOLDER.encode(), data)
        table = _parse(path, spec, schema, data, 2, header_row=True, ends_file=True)
        yield table, _Where(path, 2, False, data[header_len:], cr_replaced=replaced), replaced
        return
    bar = tqdm(total=size, unit="B", unit_scale=True, desc=spec.file, leave=False)
    # memory-mapped and sliced without copies: each block is a zero-copy view cut after a newline
    with pa.memory_map(str(path), "r") as mm, bar:
        whole = mm.read_buffer()  # zero-copy view of the mapped file
        bar.update(header_len)
        pos, line = header_len, 2
        while pos < size:
            end = _block_end(whole, pos, size)
            table = _parse(path, spec, schema, whole.slice(pos, end - pos), line, header_row=False,
                           ends_file=end == size)
            yield table, _Where(path, line, True), False
            line += table.num_rows
            bar.update(end - pos)
            pos = end


def _block_end(whole: pa.Buffer, pos: int, size: int) -> int:
    """End (exclusive) of the block starting at `pos`: just after the last newline within CHUNK_BYTES,
    or after the first newline beyond it when a single line is longer (or the end of the file)."""
    end = min(pos + CHUNK_BYTES, size)
    if end == size:
        return end
    n = min(1 << 16, end - pos)
    tail = whole.slice(end - n, n).to_pybytes()
    k = tail.rfind(b"\n")
    if k >= 0:
        return end - len(tail) + k + 1
    while end < size:  # a line longer than the tail window: extend to the next newline
        more = whole.slice(end, min(1 << 20, size - end)).to_pybytes()
        k = more.find(b"\n")
        if k >= 0:
            return end + k + 1
        end += len(more)
    return size


# --- conversion and validation -------------------------------------------------------------------------
def _np(arr: pa.ChunkedArray | pa.Array, fill: object = 0) -> np.ndarray:
    """Numpy view of an Arrow column with nulls filled."""
    if arr.null_count:
        arr = pc.fill_null(arr, fill)
    return arr.to_numpy()


def _null_mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if not arr.null_count:
        return np.zeros(len(arr), dtype=bool)
    return pc.is_null(arr).to_numpy(zero_copy_only=False)


def _parse_list(where: _Where, col: Col, arr: pa.ChunkedArray, out: pa.DataType) -> pa.Array:
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
                _fail(where, col.name, [row], [s], "a list of integers like [8] or [27, 9]")
            items = [int(x) for x in m.group(1).split(",")] if m.group(1) else []
            lo = col.min if col.min is not None else -np.inf
            hi = min(col.max if col.max is not None else np.inf, _INT_BOUNDS[out.value_type] - 1)
            if any(not lo <= x <= hi for x in items):
                _fail(where, col.name, [row], [s], f"list items in [{lo:g}, {hi:g}]")
        else:
            if not (s.startswith("[") and s.endswith("]")):
                _fail(where, col.name, [row], [s], "a list like [a,b,c] or []")
            inner = s[1:-1].strip()
            items = [t.strip() for t in inner.split(",")] if inner else []
            if any(t == "" for t in items):
                _fail(where, col.name, [row], [s], "a list without empty items")
        values.append(items)
    return pa.array(values, type=out)


def _convert_column(where: _Where, col: Col, arr: pa.ChunkedArray, f: pa.Field) -> pa.Array | pa.ChunkedArray:
    """Convert a parsed column to its contract type, applying null tokens and value checks."""
    t = f.type
    if col.kind in ("list_int", "list_str"):
        out = _parse_list(where, col, arr, t)
    elif pa.types.is_string(t):
        out = arr
        if col.null_tokens:
            out = pc.if_else(pc.is_in(out, pa.array(col.null_tokens)), pa.scalar(None, pa.string()), out)
        if where.cr_replaced:
            out = pc.replace_substring(out, _CR_PLACEHOLDER, "\r")
        if col.allowed is not None:
            bad = pc.and_(pc.invert(pc.is_in(out, pa.array(col.allowed))), pc.is_valid(out))
            _check_mask(where, col.name, bad.to_numpy(zero_copy_only=False), out,
                        f"one of {list(col.allowed)}")
    elif pa.types.is_integer(t) and pa.types.is_floating(arr.type):
        x = _np(arr, np.nan)
        nulls = np.isnan(x)
        for code in col.null_ints:
            nulls |= x == code
        frac = ~nulls & ((x != np.floor(x)) | ~np.isfinite(x))
        _check_mask(where, col.name, frac, x, f"an integer ({t})")
        lim = _INT_BOUNDS[t]
        _check_mask(where, col.name, ~nulls & ((x < -lim) | (x >= lim)), x, f"an integer within {t}")
        out = pa.array(np.where(nulls, 0, x).astype(t.to_pandas_dtype()), type=t,
                       mask=nulls if nulls.any() else None)
    else:
        out = arr
    if pa.types.is_floating(t):
        x = _np(out, 0.0)
        _check_mask(where, col.name, ~np.isfinite(x), x, "a finite number")
    if not f.nullable and out.null_count:
        bad = _null_mask(out)
        _check_mask(where, col.name, bad, None, "a value (no empty field)")
    if (col.min is not None or col.max is not None) and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        x = _np(out, col.min if col.min is not None else 0)
        lo = col.min if col.min is not None else -np.inf
        hi = col.max if col.max is not None else np.inf
        bad = (x <= lo) if col.min_exclusive else (x < lo)
        bad |= x > hi
        op = ">" if col.min_exclusive else ">="
        _check_mask(where, col.name, bad, x, f"values {op} {lo:g}" + (f" and <= {hi:g}" if col.max is not None
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
class _MatrixStats:
    rows: int = 0
    no_time: int = 0
    date_mismatch: int = 0
    hashes: list[np.ndarray] = field(default_factory=list)  # _row_hash of each block


def _convert_matrix(where: _Where, spec: FileSpec, raw: pa.Table, schema: pa.Schema, row0: int,
                    stats: _MatrixStats) -> pa.Table:
    """Validate one block of an interaction matrix and derive time_local, date and csv_row."""
    n = raw.num_rows
    cols = {name: _convert_column(where, rule, raw[name], schema.field(name))
            for name, rule in _MATRIX_RULES.items()}
    p = _np(cols["play_duration"]).astype(np.float64)
    d = _np(cols["video_duration"]).astype(np.float64)
    wr = _np(cols["watch_ratio"])
    expected = p / d
    bad = np.abs(wr - expected) > WATCH_RATIO_RTOL * np.abs(expected) + 1e-12
    _check_mask(where, "watch_ratio", bad, wr, "watch_ratio == play_duration / video_duration")

    ts_arr, date_arr, time_arr = raw["timestamp"], raw["date"], raw["time"]
    ts_null, date_null, time_null = _null_mask(ts_arr), _null_mask(date_arr), _null_mask(time_arr)
    if spec.time_required:
        for name, nulls in (("timestamp", ts_null), ("date", date_null), ("time", time_null)):
            _check_mask(where, name, nulls, None, "a value (no empty field)")
    else:
        odd = (ts_null != date_null) | (ts_null != time_null)
        _check_mask(where, "timestamp", odd, ts_arr,
                    "time, date and timestamp to be all empty or all present")
    ts = _np(ts_arr, 0.0)
    _check_mask(where, "timestamp", ~np.isfinite(ts) | (ts < 0), ts, "finite epoch seconds >= 0")
    ts_ms = np.rint(ts * 1000.0).astype(np.int64)
    local = pa.array(ts_ms, type=pa.int64(), mask=ts_null if ts_null.any() else None).cast(
        pa.timestamp("ms", tz=TIMEZONE))
    local_naive = pc.local_timestamp(local)  # wall clock in Asia/Shanghai
    local_ms = _np(local_naive.cast(pa.int64()))
    time_ms = _np(time_arr.cast(pa.int64()))
    bad = ~ts_null & (np.abs(time_ms - local_ms) > TIME_TOL_MS)
    _check_mask(where, "time", bad, time_arr, f"time == timestamp in {TIMEZONE} (within {TIME_TOL_MS} ms)")

    # a block holds a few dozen distinct dates: validate those, then map every row by hash lookup
    distinct = pc.unique(date_arr).drop_null()
    dist_f = distinct.to_numpy()
    bad_f = (dist_f != np.floor(dist_f)) | ~np.isfinite(dist_f)
    if bad_f.any():
        _check_mask(where, "date", pc.is_in(date_arr, distinct.filter(pa.array(bad_f))).to_numpy(
            zero_copy_only=False), date_arr, "an integer date YYYYMMDD")
    dist_days, valid = _civil_days(dist_f.astype(np.int64))
    if not valid.all():
        _check_mask(where, "date", pc.is_in(date_arr, distinct.filter(pa.array(~valid))).to_numpy(
            zero_copy_only=False), date_arr, "a calendar date YYYYMMDD")
    pos = _np(pc.index_in(date_arr, value_set=distinct), 0)
    date_i = dist_f.astype(np.int32)[pos] if len(dist_f) else np.zeros(n, np.int32)
    days = dist_days[pos] if len(dist_f) else np.zeros(n, np.int64)
    local_days = np.floor_divide(local_ms, 86_400_000)
    stats.date_mismatch += int((~date_null & (days != local_days)).sum())
    stats.no_time += int(ts_null.sum())
    stats.rows += n
    stats.hashes.append(_row_hash(_np(cols["user_id"]), _np(cols["video_id"]), _np(cols["play_duration"]),
                                  _np(cols["video_duration"]), np.where(ts_null, np.nan, ts)))

    arrays = {
        **cols,
        "timestamp": ts_arr,
        "time_local": local,
        "date": pa.array(date_i, type=pa.int32(), mask=date_null if date_null.any() else None),
        "csv_row": pa.array(np.arange(row0, row0 + n, dtype=np.int64)),
    }
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def _check_unique(where: _Where, table: pa.Table, keys: tuple[str, ...]) -> None:
    if not keys:
        return
    grouped = table.select(list(keys)).group_by(list(keys), use_threads=False).aggregate([])
    if grouped.num_rows == table.num_rows:
        return
    df = table.select(list(keys)).to_pandas()
    dup = df.duplicated(keep=False).to_numpy()
    idx = np.flatnonzero(dup)
    vals = [tuple(r) for r in df.iloc[idx[:MAX_SHOWN]].itertuples(index=False)]
    _fail(where, "+".join(keys), idx[:MAX_SHOWN], vals, f"unique ({', '.join(keys)})", total=len(idx))


_DUP_KEYS = ("user_id", "video_id", "play_duration", "video_duration", "timestamp", "date", "watch_ratio")
"""Columns compared for exact duplicates (every CSV column; `time` is checked to follow timestamp)."""
_MIX = np.uint64(0xBF58476D1CE4E5B9)


def _row_hash(user: np.ndarray, video: np.ndarray, play: np.ndarray, vdur: np.ndarray,
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


def _table_hash(table: pa.Table) -> np.ndarray:
    return _row_hash(_np(table["user_id"]), _np(table["video_id"]), _np(table["play_duration"]),
                     _np(table["video_duration"]), _np(table["timestamp"], np.nan))


def _duplicate_mask(table: pa.Table, h: np.ndarray | None = None) -> np.ndarray:
    """True for rows that exactly repeat an earlier row (same value in every column of _DUP_KEYS).

    The row hash `h` (computed block by block while reading) finds the candidates: a SIMD sort finds the
    hash values that repeat, far faster than a hash table over all rows. Each candidate is then compared
    column by column with the first row of its hash, so the result is exact (a hash collision only costs
    a slower exact pass)."""
    import pandas as pd

    h = _table_hash(table) if h is None else h
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
    for k in _DUP_KEYS:
        a, b = table[k].take(cand), table[k].take(ref)
        eq = pc.fill_null(pc.equal(a, b), False)
        if a.null_count or b.null_count:
            eq = pc.or_(eq, pc.and_(pc.is_null(a), pc.is_null(b)))
        same &= eq.to_numpy(zero_copy_only=False)
    if same.all():
        dup[cand.to_numpy()] = True
        return dup
    log.warning("row-hash collision among %d rows: exact duplicate pass", int((~same).sum()))
    df = table.select(list(_DUP_KEYS)).to_pandas()
    return df.duplicated(keep="first").to_numpy()


def read_table(path: str | Path, stem: str | None = None, duplicates: str = "keep") -> pa.Table:
    """Read and validate one raw CSV into its typed table (see module docstring); raise IngestError."""
    path = Path(path)
    stem = stem or path.stem
    if stem not in SPECS:
        raise IngestError(f"{path}: unknown KuaiRec file; expected one of {list(RAW_FILES)}")
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    if not path.is_file():
        raise IngestError(f"{path}: file not found (expected the KuaiRec 2.0 file {stem}.csv)")
    spec = SPECS[stem]
    schema = contract_schema(stem)
    parts: list[pa.Table] = []
    stats = _MatrixStats()
    row0 = 0
    where = None
    for raw, where, _ in _read_blocks(path, spec, schema):
        if spec.matrix:
            parts.append(_convert_matrix(where, spec, raw, schema, row0, stats))
        else:
            arrays = [_convert_column(where, spec.col(f.name), raw[f.name], f) for f in schema]
            parts.append(pa.Table.from_arrays(arrays, schema=schema))
        row0 += raw.num_rows
    if row0 == 0:
        raise IngestError(f"{path}: no data rows after the header (line 1)")
    table = pa.concat_tables(parts) if len(parts) != 1 else parts[0]
    del parts
    if spec.matrix:
        frac = stats.date_mismatch / max(1, stats.rows - stats.no_time)
        log.info("%s: date differs from the local date of timestamp on %d rows (%.3f%%)", spec.file,
                 stats.date_mismatch, 100 * frac)
        if frac > MAX_DATE_MISMATCH_FRAC:
            raise IngestError(
                f"{path}, column 'date': expected the local ({TIMEZONE}) date of timestamp on all but a few "
                f"rows (at most {MAX_DATE_MISMATCH_FRAC:.0%}); it differs on {stats.date_mismatch} of "
                f"{stats.rows - stats.no_time} rows ({frac:.2%})")
        dup = _duplicate_mask(table, np.concatenate(stats.hashes))
        stats.hashes.clear()
        n_dup = int(dup.sum())
        log.info("%s: %d exact duplicate rows (%.2f%%)", spec.file, n_dup, 100 * n_dup / table.num_rows)
        if n_dup and duplicates == "drop" and stem == "big_matrix":
            table = table.filter(pa.array(~dup))
            log.info("%s: dropped %d duplicate rows (ingest.duplicates=drop)", spec.file, n_dup)
    else:
        _check_unique(_Where(path, 2, False, where.data if where else None), table, spec.unique)
    return table


def _null_counts(table: pa.Table) -> dict[str, int]:
    return {c: table[c].null_count for c in table.column_names if table[c].null_count}


ID_REFERENCES: dict[tuple[str, str], tuple[str, str]] = {
    ("big_matrix", "user_id"): ("user_features", "user_id"),
    ("big_matrix", "video_id"): ("item_categories", "video_id"),
    ("small_matrix", "user_id"): ("user_features", "user_id"),
    ("small_matrix", "video_id"): ("item_categories", "video_id"),
    ("item_daily_features", "video_id"): ("item_categories", "video_id"),
    ("kuairec_caption_category", "video_id"): ("item_categories", "video_id"),
}
"""Ids that must exist in the table that lists them (user_features: one row per user; item_categories:
one row per video)."""


def _check_references(raw_dir: Path, tables: dict[str, Path], ids: dict[tuple[str, str], pa.Array]) -> None:
    """Fail if an interaction or item table uses a user/video id that its reference table lacks."""
    for (stem, column), (ref_stem, ref_col) in ID_REFERENCES.items():
        unknown = pc.filter(ids[stem, column], pc.invert(pc.is_in(ids[stem, column], ids[ref_stem, ref_col])))
        if not len(unknown):
            continue
        path = raw_dir / f"{stem}.csv"
        t = pq.read_table(tables[stem], columns=[column] + (["csv_row"] if SPECS[stem].matrix else []))
        bad = pc.is_in(t[column], unknown).to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(bad)
        if SPECS[stem].matrix:
            where = _Where(path, 2, True)
            rows = t["csv_row"].to_numpy()[idx[:MAX_SHOWN]]
        else:
            where = _Where(path, 2, False, path.read_bytes().split(b"\n", 1)[1])
            rows = idx[:MAX_SHOWN]
        _fail(where, column, rows, t[column].to_numpy()[idx[:MAX_SHOWN]].tolist(),
              f"ids listed in {ref_stem}.csv ({ref_col}); {len(unknown)} distinct id(s) are not",
              total=len(idx))


def ingest_all(raw_dir: str | Path, out_dir: str | Path, duplicates: str = "keep") -> dict[str, Path]:
    """Ingest the seven KuaiRec CSVs of `raw_dir` into `out_dir/<stem>.parquet`; return {stem: path}.

    All tables are written to temp files first and renamed only when all seven succeeded (and their ids
    agree across files): on any error (IngestError naming file, column, lines) `out_dir` gets no new file."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    missing = [f for f in RAW_FILES if not (raw_dir / f).is_file()]
    if missing:
        raise IngestError(f"{raw_dir.resolve()}: missing raw file(s) {missing}; "
                          f"expected all of {list(RAW_FILES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: dict[str, Path] = {}
    ids: dict[tuple[str, str], pa.Array] = {}
    id_columns = set(ID_REFERENCES) | set(ID_REFERENCES.values())
    # Parquet encoding runs in a background thread while the next file is parsed (Arrow releases the GIL)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write")
    writes: list[Future] = []
    try:
        for fname in tqdm(RAW_FILES, desc="ingest", unit="file"):
            stem = Path(fname).stem
            table = read_table(raw_dir / fname, stem, duplicates=duplicates)
            for s_, c_ in id_columns:
                if s_ == stem:
                    ids[s_, c_] = pc.unique(table[c_])
            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.parquet.", suffix=".tmp", dir=out_dir)
            os.close(fd)
            temps[stem] = Path(tmp)
            log.info("%s: %d rows x %d columns -> %s.parquet; nulls: %s", fname, table.num_rows,
                     table.num_columns, stem, _null_counts(table) or "none")
            writes.append(writer.submit(_write_table, table, Path(tmp), SPECS[stem]))
            del table
            for w in writes:  # surface a failed write early
                if w.done():
                    w.result()
        for w in writes:
            w.result()
        _check_references(raw_dir, temps, ids)
        final = {stem: out_dir / f"{stem}.parquet" for stem in temps}
        for stem, tmp in temps.items():
            os.replace(tmp, final[stem])
        return final
    finally:
        writer.shutdown(wait=True, cancel_futures=True)
        for tmp in temps.values():
            if tmp.exists():
                tmp.unlink()


def _write_table(table: pa.Table, path: Path, spec: FileSpec) -> None:
    """Write one table; dictionary-encode only the few-valued columns of the big matrices (dictionary
    attempts on near-unique floats such as timestamp or watch_ratio cost time and save nothing)."""
    dictionary: bool | list[str] = True
    if spec.matrix:
        dictionary = ["user_id", "video_id", "video_duration", "date"]
    pq.write_table(table, path, use_dictionary=dictionary)


__all__ = ["IngestError", "SPECS", "arrow_type", "contract_schema", "ingest_all", "read_table",
           "schema_strings", "type_string"]

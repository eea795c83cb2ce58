"""Reading the raw CSVs: header check, block-wise parsing with Arrow, the quirks of the release's text
(docs/data.md, "Quirks the loader handles"), and errors that name the file, column, 1-based CSV lines
(header = line 1) and a few offending values."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from vmrec.ingest_specs import FileSpec, IngestError

CHUNK_BYTES = 64 << 20
"""Block size of the block-wise reader of the two interaction matrices (bounds memory, locates errors)."""
MAX_SHOWN = 5
"""Offending rows shown in an error message."""

_LONE_CR = re.compile(rb"\r(?!\n)")
CR_PLACEHOLDER = "\ue000"  # a private-use character stands in for a bare \r while Arrow parses


# --- locating rows ------------------------------------------------------------------------------------
class Where:
    """Maps 0-based data rows of a parsed block to 1-based physical line numbers of the CSV."""

    def __init__(self, path: Path, first_line: int, one_row_per_line: bool, data: bytes | None = None,
                 cr_replaced: bool = False):
        self.path = path
        self.cr_replaced = cr_replaced  # bare \r bytes were replaced by CR_PLACEHOLDER before parsing
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
            yield raw.decode("utf-8", errors="replace").replace("\r", CR_PLACEHOLDER) + "\n"

    reader = csv.reader(text_lines(), strict=False)
    start = first_line
    for fields in reader:
        yield start, fields
        start = state["line"] + 1


# --- errors ------------------------------------------------------------------------------------------
def _shorten(value: object, width: int = 40) -> str:
    s = repr(value)
    return s if len(s) <= width else s[: width - 3] + "..."


def fail(where: Where, column: str | None, rows: np.ndarray | Sequence[int], values: Sequence[object],
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


def check_mask(where: Where, column: str, bad: np.ndarray, values: np.ndarray | pa.ChunkedArray | None,
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
        fail(where, column, shown, vals, expected, total=len(idx))


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
INT_BOUNDS = {pa.int8(): 2**7, pa.int16(): 2**15, pa.int32(): 2**31, pa.int64(): 2**63}


def _field_problem(value: str, t: pa.DataType) -> str | None:
    """Why `value` cannot be parsed as Arrow type `t` (None if it can). Empty fields are nulls."""
    if value == "":
        return None
    if pa.types.is_integer(t):
        if not _INT_RE.match(value):
            return f"an integer ({t})"
        if not -INT_BOUNDS[t] <= int(value) < INT_BOUNDS[t]:
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


def read_blocks(path: Path, spec: FileSpec, schema: pa.Schema) -> Iterator[tuple[pa.Table, Where, bool]]:
    """Yield (parsed block, its row->line map, whether bare \\r were replaced) for the file.

    Interaction matrices (numeric, one row per line) are read in blocks of CHUNK_BYTES cut at line ends;
    the other files are small enough to read whole (their quoted fields may span lines)."""
    header_len = _read_header(path, spec)
    size = path.stat().st_size
    if not spec.matrix:
        data = path.read_bytes()
        replaced = b"\r" in data and bool(_LONE_CR.search(data))
        if replaced:
            if CR_PLACEHOLDER.encode() in data:
                raise IngestError(f"{path}: contains U+E000, which the loader reserves for bare \\r bytes")
            data = _LONE_CR.sub(CR_PLACEHOLDER.encode(), data)
        table = _parse(path, spec, schema, data, 2, header_row=True, ends_file=True)
        yield table, Where(path, 2, False, data[header_len:], cr_replaced=replaced), replaced
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
            yield table, Where(path, line, True), False
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


"""Ingest: the seven raw KuaiRec 2.0 CSVs -> typed, validated Parquet tables (one per CSV).

The same loader reads the real release and the synthetic look-alike; nothing here knows which one it
reads. Output column names, order, Arrow types and nullability are those of
`vmrec.contracts.TABLE_COLUMNS`; this module decides how each column is parsed and validated.

Quirks of the release handled here (docs/data.md, "Quirks the loader handles"):
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

Where the parts live: ingest_specs (file specs, contract schemas), ingest_readers (header, block-wise
CSV parsing, bare \\r, error location), ingest_convert (contract types and value checks, the matrices'
time columns), ingest_duplicates (what an exact duplicate is). This module reads and validates whole
files and writes the seven tables; it re-exports the public names of the others.
"""

from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from vmrec.contracts import RAW_FILES, TIMEZONE
from vmrec.ingest_convert import MatrixStats, check_unique, convert_column, convert_matrix
from vmrec.ingest_duplicates import EXACT_DUPLICATE_KEYS, duplicate_mask
from vmrec.ingest_readers import MAX_SHOWN, Where, fail, read_blocks
from vmrec.ingest_specs import (
    SPECS,
    FileSpec,
    IngestError,
    arrow_type,
    contract_schema,
    schema_strings,
    type_string,
)

log = logging.getLogger(__name__)

DUPLICATE_POLICIES = ("keep", "drop")
MAX_DATE_MISMATCH_FRAC = 0.01
"""`date` disagrees with the local date of `timestamp` on ~0.12% of real big rows; far more means the
columns are wrong (shifted, swapped, another zone), so the step stops."""


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
    stats = MatrixStats()
    row0 = 0
    where = None
    for raw, where, _ in read_blocks(path, spec, schema):
        if spec.matrix:
            parts.append(convert_matrix(where, spec, raw, schema, row0, stats))
        else:
            arrays = [convert_column(where, spec.col(f.name), raw[f.name], f) for f in schema]
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
        dup = duplicate_mask(table, np.concatenate(stats.hashes))
        stats.hashes.clear()
        n_dup = int(dup.sum())
        log.info("%s: %d exact duplicate rows (%.2f%%)", spec.file, n_dup, 100 * n_dup / table.num_rows)
        if n_dup and duplicates == "drop" and stem == "big_matrix":
            table = table.filter(pa.array(~dup))
            log.info("%s: dropped %d duplicate rows (ingest.duplicates=drop)", spec.file, n_dup)
    else:
        check_unique(Where(path, 2, False, where.data if where else None), table, spec.unique)
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
            where = Where(path, 2, True)
            rows = t["csv_row"].to_numpy()[idx[:MAX_SHOWN]]
        else:
            where = Where(path, 2, False, path.read_bytes().split(b"\n", 1)[1])
            rows = idx[:MAX_SHOWN]
        fail(where, column, rows, t[column].to_numpy()[idx[:MAX_SHOWN]].tolist(),
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


__all__ = ["DUPLICATE_POLICIES", "EXACT_DUPLICATE_KEYS", "ID_REFERENCES", "IngestError",
           "SPECS", "arrow_type", "contract_schema", "ingest_all", "read_table", "schema_strings",
           "type_string"]

"""The interaction CSVs in the release's exact formats, and the small CSV helpers of the side files.

Fast vectorised formatting (Arrow string kernels) of big_matrix.csv and small_matrix.csv: local `time`
strings, `timestamp` with its trimmed fraction, `date` (with a float `.0` on small), Python repr() of
`watch_ratio`. `write_big` also plants the release's big_matrix quirks: exact duplicate rows and `date`
labels a day off. Formats: (docs/data.md, "The release's files"); quirks:
(docs/data.md, "Quirks the loader handles").
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from vmrec.synthetic.clock import DAY0, LOCAL_OFFSET_MS, MS_DAY, day_to_yyyymmdd, local_day
from vmrec.synthetic.policy import DUP_RATE, BigLog
from vmrec.synthetic.truth import interaction_stats, write_probs

DATE_MISMATCH_RATE = 0.0012

_FRAC = pa.array(["." + (f"{i:03d}".rstrip("0") or "0") for i in range(1000)])
_HMS = pa.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)])


def _int_str(x: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())


def float_repr(x: np.ndarray) -> pa.Array:
    """Python repr() of float64 values as an Arrow string array (vectorised; checked by the tests)."""
    x = np.asarray(x, dtype=np.float64)
    s = pc.cast(pa.array(x), pa.string())
    # Arrow writes integral values without ".0"; repr() switches to exponent form below 1e-4
    has_point = pc.or_(pc.match_substring(s, "."), pc.match_substring(s, "e"))
    special = pc.or_(pc.match_substring(s, "n"), pc.match_substring(s, "i"))
    s = pc.if_else(pc.or_(has_point, special), s, pc.binary_join_element_wise(s, ".0", ""))
    small = (np.abs(x) < 1e-4) & (x != 0)
    if small.any():
        fixed = pa.array([repr(float(v)) for v in x[small]], pa.string())
        s = pc.replace_with_mask(s, pa.array(small), fixed)
    return s


def _time_strings(ts_ms: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(`time` local string, `timestamp` string, local day index) of UTC ms timestamps."""
    ts_ms = np.asarray(ts_ms, dtype=np.int64)
    local = ts_ms + LOCAL_OFFSET_MS
    day = local_day(ts_ms)
    ms = ts_ms % 1000
    uniq, inv = np.unique(day, return_inverse=True)
    day_str = pa.array(np.datetime_as_string(DAY0 + uniq.astype("timedelta64[D]")).tolist())
    frac = pc.take(_FRAC, pa.array(ms))
    t = pc.binary_join_element_wise(pc.take(day_str, pa.array(inv)),
                                    pc.take(_HMS, pa.array((local % MS_DAY) // 1000)), " ")
    t = pc.binary_join_element_wise(t, frac, "")
    stamp = pc.binary_join_element_wise(_int_str(ts_ms // 1000), frac, "")
    return t, stamp, day


def write_lines(f, columns: list[pa.Array]) -> None:
    """Write rows (already formatted string columns, no quoting needed) as CSV lines to `f`."""
    line = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), pa.scalar("\n"), "")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32)[line.offset: line.offset + len(line) + 1]
    data = line.buffers()[2]
    f.write(memoryview(data)[offsets[0]: offsets[-1]])


def write_interactions(path: Path, user, video, play, d, ts, has_time, date_override, small: bool,
                        chunk: int = 1_000_000) -> None:
    header = "user_id,video_id,play_duration,video_duration,time,date,timestamp,watch_ratio\n"
    n = len(user)
    with open(path, "wb") as f:
        f.write(header.encode())
        for s in tqdm(range(0, n, chunk), desc=path.name, mininterval=2, disable=n <= chunk):
            sl = slice(s, s + chunk)
            t, stamp, day = _time_strings(ts[sl])
            date = _day_to_yyyymmdd_cached(day)
            if date_override is not None:
                date = np.where(date_override[sl] != 0, date_override[sl], date)
            date_s = _int_str(date)
            if small:
                date_s = pc.binary_join_element_wise(date_s, ".0", "")
                ht = pa.array(has_time[sl])
                t = pc.if_else(ht, t, "")
                date_s = pc.if_else(ht, date_s, "")
                stamp = pc.if_else(ht, stamp, "")
            ratio = play[sl].astype(np.float64) / d[sl].astype(np.float64)
            write_lines(f, [_int_str(user[sl]), _int_str(video[sl]), _int_str(play[sl]), _int_str(d[sl]),
                             t, date_s, stamp, float_repr(ratio)])


def _day_to_yyyymmdd_cached(day: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(day, return_inverse=True)
    return day_to_yyyymmdd(uniq)[inv]


def write_csv_rows(path: Path, header: list[str], rows) -> None:
    """Small files: the csv module (minimal quoting, \\n line ends), as pandas writes them."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def list_literal(xs) -> str:
    return "[" + ", ".join(str(int(x)) for x in xs) + "]"


def write_big(csv_path: Path, probs_path: Path, big: BigLog, rng: np.random.Generator) -> tuple[dict, dict]:
    n = len(big.view_sess)
    user = big.sess_user[big.view_sess]
    # date label disagreeing with the local date on ~0.12% of rows (the partition lags by a day)
    day = local_day(big.view_ts)
    mismatch = rng.random(n) < DATE_MISMATCH_RATE
    override = np.where(mismatch, day_to_yyyymmdd(np.where(rng.random(n) < 0.5, day - 1, day + 1)), 0)
    # exact duplicates, immediately after their original
    reps = 1 + (rng.random(n) < DUP_RATE)
    idx = np.repeat(np.arange(n), reps)
    write_interactions(csv_path, user[idx], big.view_video[idx], big.view_play[idx], big.view_d[idx],
                        big.view_ts[idx], None, override[idx], small=False)
    cols = {"csv_row": pa.array(np.arange(len(idx), dtype=np.int64)),
            "user_id": pa.array(user[idx].astype(np.int32)),
            "video_id": pa.array(big.view_video[idx]),
            "session_id": pa.array(big.view_sess[idx].astype(np.int64))}
    extra = {}
    if big.view_p_list is not None:
        from vmrec.synthetic.policy import propensity_columns

        extra = propensity_columns(big.view_p_pool[idx], big.view_p_list[idx])
    write_probs(probs_path, cols, big.view_probs[idx], extra)
    sizes = {"big_rows": int(len(idx)), "big_views": int(n), "big_duplicates": int(len(idx) - n)}
    stats = interaction_stats(big.view_play[idx], big.view_d[idx], big.view_probs[idx])
    stats["duplicate_rows"] = round(sizes["big_duplicates"] / sizes["big_rows"], 4)
    return sizes, stats

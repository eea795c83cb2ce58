"""Sessions of big_matrix views: a user's views split at a gap, the unit the value model is estimated on.

Output table (R/sessions/sessions.parquet), one row per kept view, sorted by session_id then position:
  session_id  int64    0..n_sessions-1, in (user_id, start_time) order
  position    int16    0-based rank of the view inside its session (timestamp order, ties by csv_row)
  user_id     int32
  video_id    int32
  csv_row     int64    row of big_matrix.csv (joins the edge table and the synthetic truth)
  timestamp   float64  UTC epoch seconds of the view
  start_time  float64  timestamp of the session's first view
  split       string   split of the session's first view in the edge table (train / val / test)

Rules: exact duplicate rows (vmrec.ingest_duplicates: every CSV column equal, so they differ only by
csv_row; the same rows ingest's duplicates=drop drops) are dropped first, keeping the lowest csv_row of
each group, when `drop_duplicates`;
views are sorted per user by (timestamp, csv_row); a new session starts when the time since the user's
previous view is strictly greater than `gap_minutes` (a gap of exactly gap_minutes continues the session);
sessions with fewer than `min_length` or more than `max_length` views are dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from vmrec.ingest_duplicates import EXACT_DUPLICATE_KEYS, exact_duplicates

log = logging.getLogger("vmrec")

SESSION_COLUMNS: dict[str, str] = {
    "session_id": "int64",
    "position": "int16",
    "user_id": "int32",
    "video_id": "int32",
    "csv_row": "int64",
    "timestamp": "float64",
    "start_time": "float64",
    "split": "string",
}
_REQUIRED = ("user_id", "video_id", "timestamp", "csv_row")


class SessionError(ValueError):
    """The input views cannot be sessionised (missing columns or values, unknown rows)."""


def sessionize(
    views: pd.DataFrame,
    gap_minutes: float,
    min_length: int,
    max_length: int,
    drop_duplicates: bool = True,
    split_by_row: pd.Series | None = None,
    source: str = "big_matrix",
) -> pd.DataFrame:
    """Split each user's views into sessions (see the module docstring for the rules and columns).

    `split_by_row` maps csv_row -> split (from the edge table); without it every split is "train".
    `source` names the input in error messages.
    """
    missing = [c for c in _REQUIRED if c not in views.columns]
    if missing:
        raise SessionError(f"{source}: missing column(s) {missing}; expected at least {list(_REQUIRED)}")
    if gap_minutes <= 0 or min_length < 1 or max_length < min_length:
        raise SessionError(
            f"bad session rules: gap_minutes={gap_minutes} (> 0), min_length={min_length} (>= 1), "
            f"max_length={max_length} (>= min_length)"
        )
    df = views.loc[:, [c for c in views.columns if c in set(_REQUIRED) | set(EXACT_DUPLICATE_KEYS)]]
    null_ts = df["timestamp"].isna().to_numpy()
    if null_ts.any():
        row = int(df["csv_row"].to_numpy()[np.argmax(null_ts)])
        raise SessionError(
            f"{source}: column timestamp is null on {int(null_ts.sum())} rows (first csv_row {row})"
        )
    n_in = len(df)
    if drop_duplicates:
        df = df.sort_values("csv_row", kind="stable")
        df = df[~exact_duplicates(df)]
    n_dup = n_in - len(df)
    df = df.sort_values(["user_id", "timestamp", "csv_row"], kind="stable").reset_index(drop=True)
    user = df["user_id"].to_numpy()
    ts = df["timestamp"].to_numpy(dtype=np.float64)
    new = np.ones(len(df), dtype=bool)
    if len(df) > 1:
        new[1:] = (user[1:] != user[:-1]) | (np.diff(ts) > gap_minutes * 60.0)
    raw_id = np.cumsum(new) - 1
    lengths = np.bincount(raw_id) if len(df) else np.zeros(0, dtype=np.int64)
    keep_session = (lengths >= min_length) & (lengths <= max_length)
    keep = keep_session[raw_id] if len(df) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(new)
    position = np.arange(len(df)) - starts[raw_id] if len(df) else np.zeros(0, dtype=np.int64)
    start_time = ts[starts][raw_id] if len(df) else np.zeros(0)
    new_id = np.cumsum(keep_session) - 1
    out = pd.DataFrame(
        {
            "session_id": new_id[raw_id][keep].astype(np.int64),
            "position": position[keep].astype(np.int16),
            "user_id": user[keep].astype(np.int32),
            "video_id": df["video_id"].to_numpy()[keep].astype(np.int32),
            "csv_row": df["csv_row"].to_numpy()[keep].astype(np.int64),
            "timestamp": ts[keep],
            "start_time": start_time[keep],
        }
    )
    if split_by_row is None:
        first_split = np.full(len(out), "train", dtype=object)
    else:
        first_rows = out["csv_row"].to_numpy()[out["position"].to_numpy() == 0]
        found = pd.Index(split_by_row.index).get_indexer(first_rows)
        if (found < 0).any():
            bad = int(first_rows[np.argmax(found < 0)])
            raise SessionError(
                f"{source}: csv_row {bad} (first view of a session) has no split in the edge table; "
                f"{int((found < 0).sum())} session(s) affected"
            )
        per_session = split_by_row.to_numpy()[found]
        first_split = per_session[out["session_id"].to_numpy()]
    out["split"] = pd.array(first_split, dtype="string")
    log.info(
        "sessions: %d views in, %d exact duplicates dropped, %d sessions kept of %d (%d views), "
        "gap %.1f min, length in [%d, %d]",
        n_in, n_dup, int(keep_session.sum()), len(lengths), len(out), gap_minutes, min_length, max_length,
    )
    return out


def length_summary(sessions: pd.DataFrame) -> pd.DataFrame:
    """Session counts by length and split: columns split, length, n_sessions (one row per pair)."""
    first = sessions[sessions["position"] == 0][["session_id", "split"]]
    lengths = sessions.groupby("session_id").size().rename("length").reset_index()
    per = first.merge(lengths, on="session_id")
    out = per.groupby(["split", "length"]).size().rename("n_sessions").reset_index()
    return out.sort_values(["split", "length"]).reset_index(drop=True)


def plot_length_histogram(summary: pd.DataFrame, path: str | Path) -> None:
    """Histogram of session lengths per split (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vmrec.io import atomic_path

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for split, grp in summary.groupby("split"):
        label = f"{split} ({int(grp['n_sessions'].sum())})"
        ax.step(grp["length"], grp["n_sessions"], where="mid", label=label)
    ax.set_xlabel("session length (views)")
    ax.set_ylabel("sessions")
    ax.set_yscale("log")
    ax.set_title("Session length distribution")
    ax.legend(title="split (sessions)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)

"""Sessionisation of big_matrix views: gap rule, ties, duplicates, window edges, lengths, splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vmrec.sessions import SessionError, length_summary, plot_length_histogram, sessionize

T0 = 1_593_878_903.438  # 2020-07-05 00:08:23.438 Beijing


def views(rows: list[tuple[int, int, float]], play: list[int] | None = None) -> pd.DataFrame:
    """(user_id, video_id, timestamp) rows -> a minimal big_matrix-like frame."""
    n = len(rows)
    return pd.DataFrame(
        {
            "user_id": np.array([r[0] for r in rows], dtype=np.int32),
            "video_id": np.array([r[1] for r in rows], dtype=np.int32),
            "play_duration": np.array(play or [1000 + i for i in range(n)], dtype=np.int64),
            "video_duration": np.full(n, 9000, dtype=np.int64),
            "timestamp": np.array([r[2] for r in rows], dtype=np.float64),
            "watch_ratio": np.full(n, 0.5),
            "csv_row": np.arange(n, dtype=np.int64),
        }
    )


def test_single_view_user_is_one_session_kept_only_if_min_length_1():
    v = views([(0, 5, T0)])
    assert len(sessionize(v, 30, 2, 200)) == 0
    out = sessionize(v, 30, 1, 200)
    assert out[["session_id", "position", "video_id"]].values.tolist() == [[0, 0, 5]]
    assert out["start_time"].iloc[0] == T0


def test_gap_exactly_at_threshold_continues_and_just_above_splits():
    g = 30 * 60.0
    v = views([(0, 1, T0), (0, 2, T0 + g), (0, 3, T0 + 2 * g + 0.001)])
    out = sessionize(v, 30, 1, 200)
    assert out["session_id"].tolist() == [0, 0, 1]
    assert out["position"].tolist() == [0, 1, 0]
    assert out["start_time"].tolist() == [T0, T0, T0 + 2 * g + 0.001]


def test_identical_timestamps_stay_together_in_csv_row_order():
    # csv rows deliberately out of order: ties are broken by csv_row, not by input order
    v = views([(0, 9, T0), (0, 7, T0), (0, 8, T0)]).iloc[[2, 0, 1]]
    out = sessionize(v, 30, 1, 200, drop_duplicates=False)
    assert out["session_id"].nunique() == 1
    assert out["csv_row"].tolist() == [0, 1, 2]
    assert out["position"].tolist() == [0, 1, 2]


def test_exact_duplicates_dropped_but_genuine_rewatches_kept():
    # rows 0 and 1 identical except csv_row (an exact duplicate); row 2 is the same pair later (a rewatch)
    v = views([(0, 4, T0), (0, 4, T0), (0, 4, T0 + 60)], play=[500, 500, 500])
    assert len(sessionize(v, 30, 1, 200, drop_duplicates=True)) == 2
    assert sessionize(v, 30, 1, 200, drop_duplicates=True)["csv_row"].tolist() == [0, 2]
    assert len(sessionize(v, 30, 1, 200, drop_duplicates=False)) == 3


def test_sessions_never_cross_users_or_date_windows():
    day = 86_400.0
    # user 0's last view of window 1 and first view of window 2 are 20 days apart; user 1 starts 1 s later
    v = views([(0, 1, T0), (0, 2, T0 + 60), (0, 3, T0 + 20 * day), (1, 4, T0 + 20 * day + 1)])
    out = sessionize(v, 30, 1, 200)
    assert out["session_id"].tolist() == [0, 0, 1, 2]
    assert out["user_id"].tolist() == [0, 0, 0, 1]


def test_length_bounds_drop_whole_sessions_and_ids_are_contiguous():
    rows = [(0, i, T0 + i) for i in range(5)] + [(0, 10, T0 + 10_000)] + [(1, i, T0 + i) for i in range(3)]
    out = sessionize(views(rows), 30, 2, 4)
    assert out["user_id"].unique().tolist() == [1]  # user 0: lengths 5 (too long) and 1 (too short)
    assert out["session_id"].unique().tolist() == [0]


def test_split_comes_from_first_view_and_unknown_row_is_an_error():
    v = views([(0, 1, T0), (0, 2, T0 + 60), (0, 3, T0 + 10_000), (0, 4, T0 + 10_060)])
    split = pd.Series(["train", "val", "val", "test"], index=[0, 1, 2, 3])
    out = sessionize(v, 30, 1, 200, split_by_row=split)
    assert out["split"].tolist() == ["train", "train", "val", "val"]
    with pytest.raises(SessionError, match="csv_row 2"):
        sessionize(v, 30, 1, 200, split_by_row=split.iloc[:2])


def test_missing_column_and_null_timestamp_errors_name_the_problem():
    with pytest.raises(SessionError, match="timestamp"):
        sessionize(views([(0, 1, T0)]).drop(columns="timestamp"), 30, 1, 10)
    v = views([(0, 1, T0), (0, 2, np.nan)])
    with pytest.raises(SessionError, match="csv_row 1"):
        sessionize(v, 30, 1, 10)


def test_length_summary_and_histogram(tmp_path):
    rows = [(0, i, T0 + i) for i in range(3)] + [(1, i, T0 + i) for i in range(2)]
    out = sessionize(views(rows), 30, 1, 200)
    summary = length_summary(out)
    assert summary.to_dict("records") == [
        {"split": "train", "length": 2, "n_sessions": 1},
        {"split": "train", "length": 3, "n_sessions": 1},
    ]
    plot_length_histogram(summary, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_sessions_drop_exactly_the_rows_ingest_calls_duplicates(tiny_tables):
    """One definition of an exact duplicate (vmrec.ingest_duplicates): on the tiny big_matrix, the views
    sessionize drops as duplicates are the rows ingest's duplicates=drop would drop."""
    import pyarrow.parquet as pq

    from vmrec.ingest_duplicates import duplicate_mask

    table = pq.read_table(tiny_tables / "big_matrix.parquet")
    dup = duplicate_mask(table)
    assert dup.any(), "the tiny big_matrix should hold exact duplicates"
    kept = sessionize(table.to_pandas(), 30, 1, 10**9, drop_duplicates=True)
    expected = np.sort(table["csv_row"].to_numpy()[~dup])
    np.testing.assert_array_equal(np.sort(kept["csv_row"].to_numpy()), expected)

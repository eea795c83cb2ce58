"""Small hand-made ingested tables (contracts.TABLE_COLUMNS types) for the feature tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmrec.features import ONEHOT_MAX, RANGE_ORDERS
from vmrec.localtime import LOCAL_OFFSET_S, day_to_yyyymmdd

T0 = 1593878400.0  # 2020-07-04 16:00 UTC = 2020-07-05 00:00 Beijing
N_DAYS = 6
DAILY_COUNT_COLS = (
    "show_cnt", "show_user_num", "play_cnt", "play_user_num", "play_duration", "complete_play_cnt",
    "valid_play_cnt", "long_time_play_cnt", "short_time_play_cnt", "like_cnt", "comment_cnt", "share_cnt",
    "follow_cnt", "collect_cnt", "reduce_similar_cnt",
)


def _interactions(rng: np.random.Generator, users: np.ndarray, videos: np.ndarray, n: int,
                  durations: np.ndarray, n_days: int, undated_frac: float = 0.0) -> pa.Table:
    u = np.sort(rng.choice(users, n))
    v = rng.choice(videos, n)
    ts = np.round(T0 + rng.uniform(0, n_days * 86400, n), 3)
    order = np.lexsort((ts, u))
    u, v, ts = u[order], v[order], ts[order]
    d = durations[v] + rng.integers(-3, 4, n)
    p = rng.integers(0, 40_000, n)
    date = day_to_yyyymmdd(np.floor((ts + LOCAL_OFFSET_S) / 86400))
    undated = rng.random(n) < undated_frac
    mask = undated
    return pa.table({
        "user_id": pa.array(u, pa.int32()),
        "video_id": pa.array(v, pa.int32()),
        "play_duration": pa.array(p, pa.int64()),
        "video_duration": pa.array(d, pa.int64()),
        "timestamp": pa.array(ts, pa.float64(), mask=mask),
        "time_local": pa.array((ts * 1000).astype("datetime64[ms]"), pa.timestamp("ms", tz="Asia/Shanghai"),
                               mask=mask),
        "date": pa.array(date, pa.int32(), mask=mask),
        "watch_ratio": pa.array(p / d, pa.float64()),
        "csv_row": pa.array(np.arange(n), pa.int64()),
    })


def make_tables(out: Path, seed: int = 0, n_big: int = 600, n_small: int = 150, n_users: int = 12,
                n_videos: int = 24, n_days: int = N_DAYS) -> Path:
    """Write the six tables the feature stage reads into `out` and return it.

    Big views use the first 2/3 of the videos, small views the rest but the last two; the last video
    has neither categories nor daily rows. Daily rows cover the day before the views to the day after.
    """
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_big_videos = 2 * n_videos // 3
    durations = rng.integers(2_000, 60_000, n_videos)
    durations[0] = 18_000
    big = _interactions(rng, np.arange(n_users), np.arange(n_big_videos), n_big, durations, n_days)
    small = _interactions(rng, np.arange(n_users // 2), np.arange(n_big_videos, n_videos - 2), n_small,
                          durations, n_days, undated_frac=0.1)
    pq.write_table(big, out / "big_matrix.parquet")
    pq.write_table(small, out / "small_matrix.parquet")

    pq.write_table(pa.table({
        "user_id": pa.array([1, 3], pa.int32()),
        "friend_list": pa.array([[3], [1, 7]], pa.list_(pa.int32())),
    }), out / "social_network.parquet")

    degrees = ["high_active", "full_active", "middle_active", None]  # ingest turns UNKNOWN into null
    users = {"user_id": pa.array(np.arange(n_users), pa.int32()),
             "user_active_degree": pa.array([degrees[i] for i in rng.integers(0, 4, n_users)], pa.string())}
    for c in ("is_lowactive_period", "is_live_streamer", "is_video_author"):
        users[c] = pa.array(rng.integers(0, 2, n_users), pa.int8())
    for c, levels in RANGE_ORDERS.items():
        num = c.removesuffix("_range")
        users[num] = pa.array(rng.integers(0, 500, n_users), pa.int32())
        users[c] = pa.array(rng.choice(list(levels), n_users))
    for k, kmax in ONEHOT_MAX.items():
        x = rng.integers(0, kmax + 1, n_users)
        users[f"onehot_feat{k}"] = pa.array(x, pa.int32(), mask=(rng.random(n_users) < 0.1)
                                            if k in (4, 12) else None)
    pq.write_table(pa.table(users), out / "user_features.parquet")

    pq.write_table(pa.table({
        "video_id": pa.array(np.arange(n_videos - 1), pa.int32()),  # the last video has no categories
        "feat": pa.array([sorted(set(rng.integers(0, 31, rng.integers(1, 4)).tolist()))
                          for _ in range(n_videos - 1)], pa.list_(pa.int8())),
    }), out / "item_categories.parquet")

    rows_v, rows_d = [], []
    for vid in range(n_videos - 1):  # the last video has no daily rows either
        days = np.arange(-1, n_days + 1)
        keep = days[rng.random(len(days)) < 0.7]
        rows_v += [vid] * len(keep)
        rows_d += (18448 + keep).tolist()  # 18448 = 2020-07-05
    nd = len(rows_v)
    daily = {
        "video_id": pa.array(rows_v, pa.int32()),
        "date": pa.array(day_to_yyyymmdd(np.array(rows_d)), pa.int32()),
        "author_id": pa.array(rng.integers(0, 50, nd), pa.int32()),
        "video_type": pa.array(np.where(np.array(rows_v) % 7 == 0, "AD", "NORMAL")),
        "upload_dt": pa.array((np.full(nd, 18440) + np.array(rows_v)).astype("datetime64[D]"), pa.date32()),
        "upload_type": pa.array(np.array(["ShortImport", "LongImport", "ShortCamera"])[np.array(rows_v) % 3]),
        "visible_status": pa.array(["public"] * nd),
        "video_duration": pa.array(durations[rows_v].astype(float), pa.float64(),
                                   mask=(rng.random(nd) < 0.05)),
        "play_progress": pa.array(rng.random(nd), pa.float64()),
    }
    for c in DAILY_COUNT_COLS:
        daily[c] = pa.array(rng.integers(0, 1000, nd), pa.int64(),
                            mask=(rng.random(nd) < 0.2) if c == "collect_cnt" else None)
    pq.write_table(pa.table(daily), out / "item_daily_features.parquet")
    return out

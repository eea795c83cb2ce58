"""Shared interfaces of vmrec: head names, file layout, table columns, the model interface.

This module is the single written record of what one stage hands to the next. Change it only
together with every stage that reads the thing you change.

File layout (R = results/<dataset name>, see vmrec.config.dataset_name):
  raw (synthetic): data/raw/<name>/KuaiRec 2.0/data/<RAW_FILES>   exact KuaiRec 2.0 formats
                   data/raw/<name>/truth/                          planted ground truth (TRUTH_*)
  raw (kuairec):   <kuairec_dir>/<RAW_FILES>
  R/tables/<stem>.parquet         ingest: one typed table per CSV (TABLE_COLUMNS)
  R/features/edges.parquet        features: one row per view of big and per observed pair of small
  R/features/columns.csv          column dictionary of edges.parquet (name, dtype, description)
  R/features/item_features.parquet  video_id, date, f_item_* for every video and every date of the data
  R/graph/                        graph tensors (vmrec.graph)
  R/sweep/<model>/lr<lr>_bs<bs>.json, R/sweep/<model>/best.json
  R/models/<model>/model.pt, curve.csv, predictions.parquet (PREDICTION_COLUMNS)
  R/metrics/<model>.csv           tidy metrics (METRIC_COLUMNS)
  R/sessions/sessions.parquet     value model: sessions (vmrec.sessions)
  R/value_model/weights.json, recovery.csv
  R/report/                       summary tables and figures
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

# --- heads -------------------------------------------------------------------------------------
HEADS: tuple[str, ...] = ("y_complete", "y_long", "y_rewatch", "y_neg")
"""The four binary engagement heads, in this order everywhere (logit columns, weight vectors)."""

PROB_COLUMNS: tuple[str, ...] = tuple("p_" + h.removeprefix("y_") for h in HEADS)
"""Probability columns matching HEADS: p_complete, p_long, p_rewatch, p_neg."""

# --- raw files ---------------------------------------------------------------------------------
RAW_FILES: tuple[str, ...] = (
    "big_matrix.csv",
    "small_matrix.csv",
    "social_network.csv",
    "user_features.csv",
    "item_daily_features.csv",
    "item_categories.csv",
    "kuairec_caption_category.csv",
)
RAW_SUBDIR = "KuaiRec 2.0/data"
TIMEZONE = "Asia/Shanghai"
UTC_OFFSET_S = 8 * 3600
"""Offset of TIMEZONE from UTC in seconds: Asia/Shanghai is UTC+8 without daylight saving since 1991."""
N_TAGS = 31
"""Tag ids of item_categories.csv `feat` are 0..N_TAGS-1."""
USER_RANGE_LEVELS: dict[str, tuple[str, ...]] = {
    "follow_user_num_range": ("0", "(0,10]", "(10,50]", "(50,100]", "(100,150]", "(150,250]", "(250,500]",
                              "500+"),
    "fans_user_num_range": ("0", "[1,10)", "[10,100)", "[100,1k)", "[1k,5k)", "[5k,1w)", "[1w,10w)"),
    "friend_user_num_range": ("0", "[1,5)", "[5,30)", "[30,60)", "[60,120)", "[120,250)", "250+"),
    "register_days_range": ("15-30", "31-60", "61-90", "91-180", "181-365", "366-730", "730+"),
}
"""The levels of user_features.csv's *_range columns, in their order."""
USER_ONEHOT_MAX: tuple[int, ...] = (1, 7, 29, 1075, 11, 9, 2, 46, 339, 6, 4, 2, 1, 1, 1, 1, 1, 1)
"""Largest category index of user_features.csv's onehot_feat0..onehot_feat17 in the release."""

# --- ingest tables (R/tables/<stem>.parquet) ------------------------------------------------------
# Arrow types as strings; "?" marks a nullable column. Columns appear in this order.
INTERACTION_COLUMNS: dict[str, str] = {
    "user_id": "int32",
    "video_id": "int32",
    "play_duration": "int64",  # ms
    "video_duration": "int64",  # ms
    "timestamp": "float64?",  # UTC epoch seconds (source of truth); null on small rows without time
    "time_local": "timestamp[ms, tz=Asia/Shanghai]?",  # derived from timestamp
    "date": "int32?",  # YYYYMMDD as written in the file
    "watch_ratio": "float64",
    "csv_row": "int64",  # 0-based data row of the CSV (header excluded), for traceability
}
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "big_matrix": INTERACTION_COLUMNS,
    "small_matrix": INTERACTION_COLUMNS,
    "social_network": {"user_id": "int32", "friend_list": "list<int32>"},
    "item_categories": {"video_id": "int32", "feat": "list<int8>"},
    # user_active_degree: high_active | full_active | middle_active; the file's UNKNOWN -> null.
    # *_range columns hold the file's range labels ("(0,10]", "[1k,5k)", "730+", ...) verbatim.
    # onehot_featK holds a category index (not a vector); null where the CSV field is empty.
    "user_features": {
        "user_id": "int32",
        "user_active_degree": "string?",
        "is_lowactive_period": "int8",  # 0/1
        "is_live_streamer": "int8",  # 0/1
        "is_video_author": "int8",  # 0/1
        "follow_user_num": "int32",
        "follow_user_num_range": "string",
        "fans_user_num": "int32",
        "fans_user_num_range": "string",
        "friend_user_num": "int32",
        "friend_user_num_range": "string",
        "register_days": "int32",
        "register_days_range": "string",
        **{f"onehot_feat{k}": "int32?" for k in range(18)},
    },
    # One row per (video_id, date); every count is within that day (join on days < d, never d).
    # Descriptive columns are nullable; counts are not, except collect_* (empty on early dates).
    "item_daily_features": {
        "video_id": "int32",
        "date": "int32",  # YYYYMMDD
        "author_id": "int32",
        "video_type": "string?",  # NORMAL | AD
        "upload_dt": "date32?",
        "upload_type": "string?",
        "visible_status": "string?",
        "video_duration": "float64?",  # ms
        "video_width": "int32?",
        "video_height": "int32?",
        "music_id": "int64?",
        "video_tag_id": "int32?",
        "video_tag_name": "string?",
        **{c: "int64" for c in (
            "show_cnt", "show_user_num", "play_cnt", "play_user_num", "play_duration",
            "complete_play_cnt", "complete_play_user_num", "valid_play_cnt", "valid_play_user_num",
            "long_time_play_cnt", "long_time_play_user_num", "short_time_play_cnt",
            "short_time_play_user_num")},
        "play_progress": "float64?",
        "comment_stay_duration": "float64?",
        **{c: "int64" for c in (
            "like_cnt", "like_user_num", "click_like_cnt", "double_click_cnt", "cancel_like_cnt",
            "cancel_like_user_num", "comment_cnt", "comment_user_num", "direct_comment_cnt",
            "reply_comment_cnt", "delete_comment_cnt", "delete_comment_user_num", "comment_like_cnt",
            "comment_like_user_num", "follow_cnt", "follow_user_num", "cancel_follow_cnt",
            "cancel_follow_user_num", "share_cnt", "share_user_num", "download_cnt", "download_user_num",
            "report_cnt", "report_user_num", "reduce_similar_cnt", "reduce_similar_user_num")},
        **{c: "int64?" for c in (
            "collect_cnt", "collect_user_num", "cancel_collect_cnt", "cancel_collect_user_num")},
    },
    # Text "UNKNOWN" and empty text -> null; category id -124 -> null; bare \r inside captions kept.
    "kuairec_caption_category": {
        "video_id": "int32",
        "manual_cover_text": "string?",
        "caption": "string?",
        "topic_tag": "list<string>?",  # [a,b,c] with unquoted tokens; [] -> empty list
        "first_level_category_id": "int32?",
        "first_level_category_name": "string?",
        "second_level_category_id": "int32?",
        "second_level_category_name": "string?",
        "third_level_category_id": "int32?",
        "third_level_category_name": "string?",
    },
}

# --- edge table (R/features/edges.parquet) -----------------------------------------------------------
EDGE_ID_COLUMNS: dict[str, str] = {
    "edge_id": "int64",  # 0..n-1, row order of the table
    "user_id": "int32",
    "video_id": "int32",
    "source": "string",  # "big" | "small"
    "csv_row": "int64",  # row in the source CSV
    "timestamp": "float64?",  # UTC epoch seconds; null for small rows without time
    "date": "int32",  # YYYYMMDD as-of date of the f_item_* (key of item_features.parquet); see vmrec.features
    "split": "string",  # SPLITS
}
LABEL_COLUMNS: tuple[str, ...] = HEADS  # int8 0/1
# Column order of edges.parquet: EDGE_ID_COLUMNS, LABEL_COLUMNS, then f_ctx_*, f_user_*, f_item_*.
# columns.csv describes every column; vmrec.features.feature_columns() lists the f_* in order.
FEATURE_PREFIX = "f_"
"""Every model input column of the edge table starts with f_ (float32, no nulls; missing values are
filled and flagged by their own f_*_missing indicator). Nothing else in the table is a model input."""
FEATURE_GROUPS: tuple[str, ...] = ("f_ctx_", "f_user_", "f_item_")
"""Every f_* column belongs to exactly one group, by prefix:
  f_ctx_*   context of the view (local hour, weekday, time since the user's previous view, views so far)
  f_user_*  static user features
  f_item_*  item features: static ones and daily statistics of days strictly before the view's date
The value model scores a candidate video v in a session by taking the f_ctx_* and f_user_* values of
the session's shown view and the f_item_* values of (v, date) from item_features.parquet."""
SPLITS: tuple[str, ...] = ("train", "val", "test", "small")

# --- predictions (R/models/<model>/predictions.parquet) ----------------------------------------------
PREDICTION_COLUMNS: dict[str, str] = {
    "edge_id": "int64",
    "split": "string",
    **{c: "float32" for c in PROB_COLUMNS},
}

# --- metrics (R/metrics/<model>.csv, R/report/metrics.csv) --------------------------------------------
METRIC_COLUMNS: tuple[str, ...] = ("model", "split", "head", "metric", "value", "ci_low", "ci_high")

# --- synthetic truth (data/raw/<name>/truth/) -------------------------------------------------------
TRUTH_JSON = "truth.json"
"""value_weights {head: w}, noise_scale, label thresholds the probabilities refer to, session and
candidate-pool rules, seed, scale, sizes."""
TRUTH_SMALL = "small_probs.parquet"  # user_id, video_id, PROB_COLUMNS (every small-matrix cell)
TRUTH_BIG = "big_probs.parquet"
"""Every big row: csv_row, user_id, video_id, session_id, PROB_COLUMNS, PROPENSITY_COLUMNS."""
TRUTH_POOLS = "pools.parquet"
"""Candidate pools of logged sessions: session_id int64, user_id int32, video_id int32,
shown bool, position int16 (0-based rank in the shown list, -1 if not shown), PROB_COLUMNS float32,
PROPENSITY_COLUMNS."""
OFFPOLICY_WHERE: tuple[str, ...] = ("shown", "not shown", "shown - not shown")
"""The `where` values of report/offpolicy.csv (vmrec.offpolicy): shown candidates, passed-over candidates,
and the selection gap between them."""
PROPENSITY_COLUMNS: tuple[str, ...] = ("p_pool", "p_list", "propensity")
"""Planted propensities on every TRUTH_POOLS and TRUTH_BIG row (synthetic.propensity): P(in the pool),
P(ranked into the top L | in the pool) (Monte Carlo) and their product, float32; p_pool and propensity are
null in the platform world (personalised retrieval: not computed)."""
SYNTHESIZE_THREADS = 2
"""Threads of the synthesize rule and of `make bench --only generate` (vmrec.synthetic.generate: the files
do not depend on it). Here, not in vmrec.synthetic, so that parsing the Snakefile does not import the
generator."""
SYNTHESIZE_MEM_MB = {("simple", "tiny"): 1000, ("simple", "small"): 2000, ("simple", "full"): 6000,
                     ("platform", "tiny"): 1500, ("platform", "small"): 2500, ("platform", "full"): 10000}
"""Memory the synthesize rule asks for, per (world, scale): the measured peak RSS with SYNTHESIZE_THREADS
threads (simple 0.46 / 0.83 / 3.6 GB, platform 0.69 / 1.16 / 8.0 GB at tiny / small / full) with headroom."""
PLATFORM_PROB_COLUMNS: tuple[str, ...] = tuple(f"q_{h.removeprefix('y_')}" for h in HEADS)
TRUTH_PLATFORM_POOLS = "platform_pools.parquet"
"""Platform world only (truth.json "world": "platform"): the logging policy's own head probabilities of
every pools.parquet row, in the same order: session_id int64, video_id int32, PLATFORM_PROB_COLUMNS
float32 (q_complete, q_long, q_rewatch, q_neg). pools.parquet's PROB_COLUMNS there are the true heads at
the session start without position or fatigue; TRUTH_BIG's those of each row in its own context."""


# --- the model interface ---------------------------------------------------------------------------
class EngagementModel(Protocol):
    """What training, evaluation and the value model rely on; every model (logreg, edge_mlp, mf_h*,
    lightgcn_h*, gnn_h*) implements it. X holds the f_* columns in `feature_names` order (unstandardised;
    the model applies the standardisation fitted on train)."""

    feature_names: list[str]

    def predict_proba(self, X: np.ndarray, user_id: np.ndarray, video_id: np.ndarray) -> np.ndarray:
        """Return an (n, 4) float array of probabilities in HEADS order."""
        ...

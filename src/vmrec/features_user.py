"""User features (f_user_*): the static user tables, user_features and social_network.

The vocabularies are those of the release's user_features.csv (docs/data.md, "The release's files")."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vmrec.contracts import USER_ONEHOT_MAX, USER_RANGE_LEVELS
from vmrec.features_common import FeatureBlock, column, log1p_pos, read_ingested, slug

log = logging.getLogger(__name__)

ACTIVE_DEGREES = ("high_active", "full_active", "middle_active", "UNKNOWN")
RANGE_ORDERS: dict[str, tuple[str, ...]] = USER_RANGE_LEVELS
USER_FLAGS = ("is_lowactive_period", "is_live_streamer", "is_video_author")
USER_NUMS = ("follow_user_num", "fans_user_num", "friend_user_num")
ONEHOT_MAX: dict[int, int] = dict(enumerate(USER_ONEHOT_MAX))
"""Largest category index of each onehot_featK in the release."""
ONEHOT_NULLABLE = frozenset({4, 12, 13, 14, 15, 16, 17})
"""onehot_featK columns with empty fields in the release: these get an f_user_onehotK_missing flag."""
ONEHOT_MAX_WIDTH = 12
"""onehot_featK with at most this many categories are one-hot encoded; larger ones get the log
frequency of their value among users (target-free)."""


def user_features(tables_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Static user features: (sorted user ids, float32 matrix users x k, {column: description})."""
    uf = read_ingested(tables_dir, "user_features")
    users = column(uf, "user_id", np.int64)
    if len(np.unique(users)) != len(users):
        raise ValueError("user_features: user_id is not unique")
    order = np.argsort(users, kind="stable")
    uf = uf.take(pa.array(order))
    users = users[order]
    n = len(users)
    b = FeatureBlock(n)
    deg = pc.fill_null(pc.cast(uf.column("user_active_degree"), pa.string()), "UNKNOWN").to_numpy(
        zero_copy_only=False).astype(str)
    known = np.isin(deg, ACTIVE_DEGREES)
    deg = np.where(known, deg, "UNKNOWN")
    for v in ACTIVE_DEGREES:
        b.add(f"f_user_active_{slug(v)}", deg == v, f"user_active_degree == {v} (null = UNKNOWN)")
    for c in USER_FLAGS:
        x = column(uf, c)
        b.add(f"f_user_{c}", np.nan_to_num(x, nan=0.0), f"{c} flag (0 where empty)")
    for c in (*USER_NUMS, "register_days"):
        x = column(uf, c)
        if np.isnan(x).any():
            log.warning("user_features.%s: %d empty values encoded as 0", c, int(np.isnan(x).sum()))
        b.add(f"f_user_log_{c}", log1p_pos(np.nan_to_num(x)), f"log1p {c}")
    for c, levels in RANGE_ORDERS.items():
        s = pc.cast(uf.column(c), pa.string()).to_numpy(zero_copy_only=False)
        lookup = {v: i for i, v in enumerate(levels)}
        codes, uniq = pd.factorize(pd.Series(s, dtype=object), use_na_sentinel=True)
        level = np.array([lookup.get(x, np.nan) for x in uniq], dtype=np.float64)
        ordinal = np.where(codes >= 0, level[np.maximum(codes, 0)] if len(level) else np.nan, np.nan)
        b.add_filled(f"f_user_{c}_ord", ordinal, f"ordinal of {c} in {list(levels)}")
    for k, kmax in ONEHOT_MAX.items():
        c = f"onehot_feat{k}"
        x = column(uf, c)
        miss = np.isnan(x)
        bad = ~miss & ((x < 0) | (x > kmax) | (x != np.round(x)))
        if bad.any():
            log.warning("user_features.%s: %d values outside 0..%d treated as missing", c, bad.sum(), kmax)
            miss |= bad
        if miss.any() and k not in ONEHOT_NULLABLE:
            log.warning("user_features.%s: %d empty values encoded as all-zero", c, int(miss.sum()))
        xi = np.where(miss, -1, x).astype(np.int64)
        if kmax == 1:
            b.add(f"f_user_onehot{k}", xi == 1, f"{c} (binary index)")
        elif kmax + 1 <= ONEHOT_MAX_WIDTH:
            for v in range(kmax + 1):
                b.add(f"f_user_onehot{k}_{v}", xi == v, f"{c} == {v}")
        else:
            vals, inv, counts = np.unique(xi, return_inverse=True, return_counts=True)
            freq = np.log(counts[inv] / n)
            b.add(f"f_user_onehot{k}_logfreq", np.where(miss, 0.0, freq),
                  f"log share of users with the same {c} value (frequency encoding, target-free)")
        if k in ONEHOT_NULLABLE:
            b.add(f"f_user_onehot{k}_missing", miss, f"1 if {c} is empty")
    # friends from the social network (users absent from it have none)
    sn = read_ingested(tables_dir, "social_network")
    fr_users = column(sn, "user_id", np.int64)
    fr_count = pc.list_value_length(sn.column("friend_list")).to_numpy(zero_copy_only=False)
    fr_count = np.nan_to_num(np.asarray(fr_count, dtype=np.float64))
    friends = np.zeros(n)
    pos = np.searchsorted(users, fr_users)
    found = (pos < n) & (users[np.minimum(pos, n - 1)] == fr_users)
    np.add.at(friends, pos[found], fr_count[found])
    b.add("f_user_log_friends", np.log1p(friends), "log1p friends in social_network (0 if absent)")
    return users, b.matrix(), b.desc

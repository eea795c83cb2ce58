"""Context features (f_ctx_*) of a view: from timestamps only (docs/data.md, "Leakage rules")."""

from __future__ import annotations

import numpy as np

from vmrec.features_common import FeatureBlock
from vmrec.localtime import DAY_S, LOCAL_OFFSET_S, local_day


def context_features(user_id: np.ndarray, ts: np.ndarray, source: str) -> FeatureBlock:
    """f_ctx_* of one source's rows (table order) from timestamps only.

    Local hour and weekday as sin/cos, log1p seconds since the user's previous view and log1p of the
    user's views so far, both counted within this source in (timestamp, row) order. Rows without a
    timestamp get zeros and f_ctx_time_missing = 1.
    """
    n = len(ts)
    block = FeatureBlock(n)
    has = ~np.isnan(ts)
    t = np.where(has, ts, 0.0)
    local_s = np.mod(t + LOCAL_OFFSET_S, DAY_S)
    hour_angle = 2 * np.pi * local_s / DAY_S
    weekday = np.mod(local_day(t) + 3, 7)  # 1970-01-01 was a Thursday; Monday = 0
    wd_angle = 2 * np.pi * weekday / 7
    gap = np.full(n, np.nan)
    seen = np.full(n, np.nan)
    idx = np.flatnonzero(has)
    if idx.size:
        uu, tt = user_id[idx], ts[idx]
        # big is stored by user, then time: skip the sort when the rows already are in that order
        if len(idx) > 1 and np.all((uu[1:] > uu[:-1]) | ((uu[1:] == uu[:-1]) & (tt[1:] >= tt[:-1]))):
            order = idx
        else:
            order = idx[np.lexsort((idx, tt, uu))]
        del uu, tt
        u = user_id[order]
        tt = ts[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = u[1:] != u[:-1]
        pos = np.arange(len(order))
        start = np.maximum.accumulate(np.where(first, pos, 0))
        seen[order] = pos - start
        g = np.empty(len(order))
        g[0] = np.nan
        g[1:] = np.diff(tt)
        g[first] = np.nan
        gap[order] = g
    zero = ~has
    for name, angle, what in (("hour", hour_angle, "local (UTC+8) time of day"),
                              ("weekday", wd_angle, "local weekday (Monday = 0)")):
        block.add(f"f_ctx_{name}_sin", np.where(zero, 0, np.sin(angle)), f"sin of the {what}")
        block.add(f"f_ctx_{name}_cos", np.where(zero, 0, np.cos(angle)), f"cos of the {what}")
    block.add("f_ctx_time_missing", zero, "1 if the view has no timestamp (small rows only)")
    block.add_filled("f_ctx_log_gap", np.log1p(np.clip(gap, 0, None)),
                     f"log1p seconds since the user's previous {source}-matrix view")
    block.add_filled("f_ctx_log_views_so_far", np.log1p(seen),
                     f"log1p of the user's earlier {source}-matrix views")
    return block

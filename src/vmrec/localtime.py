"""Local time of the release (contracts.TIMEZONE, UTC+8 without daylight saving): calendar days and
YYYYMMDD dates, defined once for the feature builder and the synthetic generator."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vmrec.contracts import UTC_OFFSET_S

LOCAL_OFFSET_S = UTC_OFFSET_S
"""Local (contracts.TIMEZONE) time minus UTC, in seconds."""
DAY_S = 86400


def yyyymmdd_to_day(dates: np.ndarray, where: str = "date") -> np.ndarray:
    """YYYYMMDD numbers (float, NaN = missing) -> days since 1970-01-01 (float, NaN kept).
    `where` names the column in error messages."""
    d = np.asarray(dates, dtype=np.float64)
    out = np.full(d.shape, np.nan)
    ok = ~np.isnan(d)
    if ok.any():
        uniq, inv = np.unique(d[ok].astype(np.int64), return_inverse=True)
        parsed = pd.to_datetime(pd.Series(uniq.astype(str)), format="%Y%m%d", errors="coerce")
        if parsed.isna().any():
            bad = uniq[parsed.isna().to_numpy()][:5].tolist()
            raise ValueError(f"{where}: expected YYYYMMDD dates, found {bad}")
        days = (parsed.to_numpy().astype("datetime64[D]").astype(np.int64)).astype(np.float64)
        out[ok] = days[inv]
    return out


def day_to_yyyymmdd(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 -> YYYYMMDD int32."""
    dt = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    y = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    m = dt.astype("datetime64[M]").astype(np.int64) % 12 + 1
    d = (dt - dt.astype("datetime64[M]")).astype(np.int64) + 1
    return (y * 10000 + m * 100 + d).astype(np.int32)


def local_hour(ts: np.ndarray) -> np.ndarray:
    """Local (UTC+8) hour of day 0..23 (int64) of UTC epoch seconds."""
    return np.floor(np.mod(np.asarray(ts, np.float64) + LOCAL_OFFSET_S, DAY_S) / 3600).astype(np.int64)


def local_day(ts: np.ndarray) -> np.ndarray:
    """Local (UTC+8) calendar day, as days since 1970-01-01, of UTC epoch seconds (NaN kept)."""
    return np.floor((ts + LOCAL_OFFSET_S) / DAY_S)

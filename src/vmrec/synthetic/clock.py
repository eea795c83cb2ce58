"""The synthetic calendar: local (Beijing) time, the days the logs cover, the hour-of-day profile.

Timestamps are UTC milliseconds; days are indexed in local time from DAY0 (2020-07-05). The offset of
local time is contracts.UTC_OFFSET_S (the release's TIMEZONE); every local-hour and local-day
conversion of the generator is defined here.
"""

from __future__ import annotations

import numpy as np

from vmrec import localtime
from vmrec.contracts import UTC_OFFSET_S

MS_DAY = 86_400_000
MS_HOUR = 3_600_000
LOCAL_OFFSET_MS = UTC_OFFSET_S * 1000  # Beijing = UTC + 8 h
DAY0 = np.datetime64("2020-07-05", "D")  # local day index 0
DAY0_UTC_MS = int(DAY0.astype("datetime64[ms]").astype(np.int64)) - LOCAL_OFFSET_MS  # local midnight
BIG_WINDOWS = (("2020-07-05", "2020-07-12"), ("2020-08-01", "2020-08-10"), ("2020-08-27", "2020-09-05"))
SMALL_RANGE = ("2020-07-05", "2020-09-05")
STRAY_RANGE = ("2020-06-23", "2020-09-10")
# Relative rate of session starts per local hour of day (evening peak).
HOUR_PROFILE = np.array([3.0, 2.0, 1.2, 0.7, 0.5, 0.5, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
                         3.6, 3.4, 3.0, 3.0, 3.1, 3.4, 3.8, 4.4, 5.0, 5.4, 5.2, 4.2])


def day_index(date: str) -> int:
    """Local day index (days since DAY0) of an ISO date."""
    return int((np.datetime64(date, "D") - DAY0).astype(int))


def window_days(windows) -> np.ndarray:
    """Day indices of every day in the (first, last) ISO-date windows, both ends included."""
    return np.concatenate([np.arange(day_index(a), day_index(b) + 1) for a, b in windows])


def sample_times(days: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """UTC ms of n times on the given local days with the evening-peaked hour profile."""
    day = rng.choice(days, size=n)
    hour = rng.choice(24, size=n, p=HOUR_PROFILE / HOUR_PROFILE.sum())
    within = rng.integers(0, MS_HOUR, size=n)
    return DAY0_UTC_MS + day.astype(np.int64) * MS_DAY + hour * MS_HOUR + within


def local_hour(ts_ms: np.ndarray) -> np.ndarray:
    """Fractional local (Beijing) hour of day of UTC ms timestamps."""
    return ((ts_ms + LOCAL_OFFSET_MS) % MS_DAY) / MS_HOUR


def local_day(ts_ms: np.ndarray) -> np.ndarray:
    """Local (Beijing) day index of UTC ms timestamps."""
    return (ts_ms - DAY0_UTC_MS) // MS_DAY


def day_to_yyyymmdd(day: np.ndarray) -> np.ndarray:
    """YYYYMMDD integers (int64) of local day indices."""
    return localtime.day_to_yyyymmdd(np.asarray(day) + DAY0.astype(np.int64)).astype(np.int64)

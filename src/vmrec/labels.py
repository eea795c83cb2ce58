"""The four engagement heads, derived from play duration p and video duration d (docs/data.md,
"Labels").

Units: the tables hold milliseconds, config.yaml holds seconds and ratios; the conversion happens once,
in `_thresholds_ms`. Thresholds are rounded to 1e-6 ms so that a play exactly at a threshold
(`p == 0.9 * d` in exact arithmetic) counts as reaching it despite float rounding of `ratio * d`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vmrec.contracts import HEADS

LABEL_KEYS: tuple[str, ...] = ("complete_ratio", "long_seconds", "rewatch_ratio", "neg_seconds")


def _thresholds_ms(cfg: Mapping[str, float]) -> dict[str, float]:
    """Validate the `labels` config block and return its thresholds with seconds converted to ms."""
    missing = [k for k in LABEL_KEYS if k not in cfg]
    if missing:
        raise KeyError(f"labels config: missing key(s) {missing}; expected {list(LABEL_KEYS)}, "
                       f"found {sorted(cfg)}")
    bad = {k: cfg[k] for k in LABEL_KEYS if not float(cfg[k]) > 0}
    if bad:
        raise ValueError(f"labels config: thresholds must be > 0, found {bad}")
    return {
        "complete_ratio": float(cfg["complete_ratio"]),
        "rewatch_ratio": float(cfg["rewatch_ratio"]),
        "long_ms": float(cfg["long_seconds"]) * 1000.0,
        "neg_ms": float(cfg["neg_seconds"]) * 1000.0,
    }


def _at_least(p: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """p >= threshold, robust to the last-bit rounding of a computed threshold."""
    return p >= np.round(threshold, 6)


def derive_labels(play_ms: np.ndarray, duration_ms: np.ndarray,
                  cfg: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Return {head: int8 0/1 array} in HEADS order.

    play_ms, duration_ms: play and video duration in milliseconds (same length). cfg: the `labels` block
    of config.yaml (complete_ratio, long_seconds, rewatch_ratio, neg_seconds; seconds, not ms):
      y_complete  p >= complete_ratio * d
      y_long      p >= d if d <= long_seconds else p >= long_seconds
      y_rewatch   p >= rewatch_ratio * d
      y_neg       p < min(neg_seconds, d)
    """
    th = _thresholds_ms(cfg)
    p = np.asarray(play_ms, dtype=np.float64)
    d = np.asarray(duration_ms, dtype=np.float64)
    if p.shape != d.shape or p.ndim != 1:
        raise ValueError(f"play_ms and duration_ms must be 1-d of equal length; "
                         f"found shapes {p.shape}, {d.shape}")
    bad_d = np.flatnonzero(~(d > 0))
    if bad_d.size:
        i = int(bad_d[0])
        raise ValueError(f"video_duration must be > 0 ms; found {d[i]} at row {i} ({bad_d.size} such rows)")
    bad_p = np.flatnonzero(~(p >= 0))
    if bad_p.size:
        i = int(bad_p[0])
        raise ValueError(f"play_duration must be >= 0 ms; found {p[i]} at row {i} ({bad_p.size} such rows)")
    long_thr = np.minimum(d, th["long_ms"])  # d if d <= long else long
    neg_thr = np.minimum(d, th["neg_ms"])
    out = {
        "y_complete": _at_least(p, th["complete_ratio"] * d),
        "y_long": _at_least(p, long_thr),
        "y_rewatch": _at_least(p, th["rewatch_ratio"] * d),
        "y_neg": ~_at_least(p, neg_thr),
    }
    return {h: out[h].astype(np.int8) for h in HEADS}

"""Label boundaries: thresholds in seconds/ratios from config, durations in milliseconds."""

import numpy as np
import pytest

from vmrec.contracts import HEADS
from vmrec.labels import derive_labels

CFG = {"complete_ratio": 0.9, "long_seconds": 18.0, "rewatch_ratio": 2.0, "neg_seconds": 3.0}


def lab(p, d, cfg=CFG):
    out = derive_labels(np.array(p, dtype=np.int64), np.array(d, dtype=np.int64), cfg)
    return {h: out[h].tolist() for h in out}


def test_heads_order_and_dtype():
    out = derive_labels(np.array([1000]), np.array([2000]), CFG)
    assert list(out) == list(HEADS)
    assert all(v.dtype == np.int8 for v in out.values())


@pytest.mark.parametrize("d", [10, 30, 7_777, 9_630, 10_867, 33_333, 100_003])
def test_complete_exactly_at_and_below_threshold(d):
    # p exactly 0.9 * d counts even where 0.9 * d is not exact in floating point
    p_at = np.ceil(0.9 * d - 1e-9)
    at = derive_labels(np.array([p_at]), np.array([d]), CFG)["y_complete"][0]
    below = derive_labels(np.array([p_at - 1]), np.array([d]), CFG)["y_complete"][0]
    assert (at, below) == (1, 0)
    assert lab([9], [10])["y_complete"] == [1] and lab([27], [30])["y_complete"] == [1]


def test_long_switches_at_18_seconds():
    # d <= 18 s: long means watched to the end; d exactly 18 s still uses p >= d
    assert lab([18_000, 17_999], [18_000, 18_000])["y_long"] == [1, 0]
    assert lab([10_000, 9_999], [10_000, 10_000])["y_long"] == [1, 0]
    # d > 18 s: long means p >= 18 s, not p >= d
    assert lab([18_000, 17_999], [18_001, 18_001])["y_long"] == [1, 0]
    assert lab([18_000], [60_000])["y_long"] == [1]


def test_rewatch_at_twice_duration():
    assert lab([20_000, 19_999], [10_000, 10_000])["y_rewatch"] == [1, 0]


def test_neg_below_min_of_3s_and_duration():
    assert lab([2_999, 3_000], [10_000, 10_000])["y_neg"] == [1, 0]
    # short video: the bar is the duration itself
    assert lab([1_999, 2_000], [2_000, 2_000])["y_neg"] == [1, 0]
    assert lab([0], [140])["y_neg"] == [1]


def test_thresholds_come_from_config_in_seconds():
    cfg = {**CFG, "long_seconds": 5.0, "neg_seconds": 1.0}
    assert lab([5_000, 4_999], [60_000, 60_000], cfg)["y_long"] == [1, 0]
    assert lab([999, 1_000], [60_000, 60_000], cfg)["y_neg"] == [1, 0]


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="video_duration must be > 0.*row 1"):
        derive_labels(np.array([1, 2]), np.array([5, 0]), CFG)
    with pytest.raises(ValueError, match="play_duration must be >= 0"):
        derive_labels(np.array([-1]), np.array([5]), CFG)
    with pytest.raises(KeyError, match="neg_seconds"):
        derive_labels(np.array([1]), np.array([5]), {k: v for k, v in CFG.items() if k != "neg_seconds"})

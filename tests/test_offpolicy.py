"""Off-policy evaluation (vmrec.offpolicy): metrics against scikit-learn and planted offsets."""

import numpy as np
import pandas as pd
import pytest

from vmrec.contracts import HEADS, OFFPOLICY_WHERE, PROB_COLUMNS
from vmrec.htmlreport import HEADLINE_COLUMNS, offpolicy_rows
from vmrec.offpolicy import (
    OFFPOLICY_COLUMNS,
    OFFPOLICY_PAIRED_COLUMNS,
    calibration_error,
    offpolicy_metrics,
    paired_offpolicy,
    soft_auc,
)


def test_soft_auc_equals_the_pair_sum():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 5, 400)
    s = np.round(p + rng.normal(0, 0.2, 400), 2)  # ties on purpose
    # the definition, pair by pair (i != j): p_i (1 - p_j) [s_i > s_j], ties 1/2
    w = p[:, None] * (1 - p)[None, :]
    np.fill_diagonal(w, 0.0)
    win = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
    expected = (w * win).sum() / w.sum()
    assert soft_auc(p, s) == pytest.approx(expected, abs=1e-12)
    assert soft_auc(p, p) > soft_auc(p, s) > 0.5
    assert soft_auc(p, -p) < 0.5


def test_calibration_error_sees_an_offset():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.1, 0.8, 5000)
    assert calibration_error(p, p) == 0.0
    assert calibration_error(p, p + 0.05) == pytest.approx(0.05)


def _scored(offset: float, n_sessions: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    sid = np.repeat(np.arange(n_sessions), 20)
    shown = np.tile(np.r_[np.ones(5, bool), np.zeros(15, bool)], n_sessions)
    df = pd.DataFrame({"session_id": sid, "video_id": np.tile(np.arange(20), n_sessions), "shown": shown})
    for c in PROB_COLUMNS:
        true = rng.uniform(0.05, 0.9, len(df))
        df[f"{c}_true"] = true
        df[c] = np.clip(true + np.where(shown, 0.0, offset) + rng.normal(0, 0.05, len(df)), 0, 1)
    return df


def test_offpolicy_metrics_find_the_bias_on_passed_over_candidates():
    t = offpolicy_metrics("m", _scored(0.04), n_boot=200, seed=0)
    assert list(t.columns) == list(OFFPOLICY_COLUMNS)
    assert len(t) == 3 * len(HEADS)
    # the passed-over candidates over-rated by 0.04: the predicted gap is 0.04 narrower than the true one
    gap = t[t["where"] == OFFPOLICY_WHERE[2]]
    assert ((gap["bias"] + 0.04).abs() < 0.008).all(), gap  # clipping to [0, 1] moves it slightly
    assert ((gap["bias_lo"] < gap["bias"]) & (gap["bias"] < gap["bias_hi"])).all()
    assert (gap["bias_hi"] < -0.02).all()
    assert np.allclose(gap["bias"], gap["mean_pred"] - gap["mean_true"])
    off = t[t["where"] == "not shown"]
    on = t[t["where"] == "shown"]
    assert (off["bias_lo"] < 0.04).all() and (off["bias_hi"] > 0.04).all()
    assert (off["bias_lo"] > 0.02).all()
    assert (on["bias"].abs() < 0.01).all()
    cand = t[t["where"] != OFFPOLICY_WHERE[2]]
    assert (cand["lift"] > 0.5).all() and (cand["lift"] <= 1.0 + 1e-9).all()
    rows = offpolicy_rows(t)
    assert list(rows.columns) == list(HEADLINE_COLUMNS)
    assert len(rows) == 3 * len(HEADS)
    assert rows["section"].str.startswith("selection gap").sum() == len(HEADS)


def test_a_level_shift_is_unbiased_off_policy_but_not_in_the_gap():
    df = _scored(0.0)
    for c in PROB_COLUMNS:  # every prediction 0.03 lower: passed-over fine after a +0.03 error, gap intact
        df[c] = df[c] - 0.03
    t = offpolicy_metrics("m", df, n_boot=100, seed=0)
    gap = t[t["where"] == OFFPOLICY_WHERE[2]]
    assert (gap["bias"].abs() < 0.005).all()
    assert (t.loc[t["where"] == "shown", "bias"] < -0.02).all()


def test_paired_offpolicy_finds_the_closer_model_on_the_same_candidates():
    near, far = _scored(0.01), _scored(0.05)
    t = paired_offpolicy({"near": near, "far": far}, "far", n_boot=200, seed=0)
    assert list(t.columns) == list(OFFPOLICY_PAIRED_COLUMNS)
    off = t[t["where"] == "not shown"]
    assert len(off) == len(HEADS)
    assert (off["diff"] < -0.03).all() and (off["ci_high"] < 0).all()
    assert ((off["ci_low"] < off["diff"]) & (off["diff"] < off["ci_high"])).all()
    with pytest.raises(ValueError, match="different candidates"):
        paired_offpolicy({"a": near.iloc[1:], "b": far}, "b", n_boot=10, seed=0)

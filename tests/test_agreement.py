"""The methods against each other (vmrec.value_model.agreement): the bound, the envelope, the warning."""

import numpy as np
import pytest

from vmrec.contracts import HEADS
from vmrec.htmlreport import AGREEMENT_COLUMNS, agreement_rows, headline_rst, write_headline
from vmrec.value_model.agreement import (
    DISAGREE_WARN_DEG,
    disagreement_warning,
    envelope_array,
    method_agreement,
)
from vmrec.value_model.estimate import angle_deg


def _entry(w, half=None):
    e = {"w": dict(zip(HEADS, map(float, w), strict=True))}
    e["intervals"] = None if half is None else {h: [float(v) - half, float(v) + half]
                                                for h, v in zip(HEADS, w, strict=True)}
    return e


def test_the_bound_holds_for_any_truth():
    """Half the angle between two methods is at most the larger of their angles to any vector (the triangle
    inequality on the sphere): checked against random truths, and tight for the bisector."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.normal(size=4), rng.normal(size=4)
        ag = method_agreement({"a": _entry(a), "b": _entry(b)})
        assert ag["angle_between_deg"] == pytest.approx(angle_deg(a, b))
        for w in rng.normal(size=(20, 4)):
            assert max(angle_deg(a, w), angle_deg(b, w)) >= ag["at_least_one_off_by_deg"] - 1e-9
        mid = a / np.linalg.norm(a) + b / np.linalg.norm(b)
        bound = ag["at_least_one_off_by_deg"]
        assert max(angle_deg(a, mid), angle_deg(b, mid)) == pytest.approx(bound, abs=1e-6)


def test_the_largest_pair_and_the_envelope():
    m = {"x": _entry([1, 0, 0, 0], 0.1), "y": _entry([1, 0.1, 0, 0], 0.2), "z": _entry([0, 0, 1, 0], 0.05)}
    ag = method_agreement(m)
    assert set(ag["methods"]) == {"x", "z"} and ag["angle_between_deg"] == pytest.approx(90.0)
    env = envelope_array(ag)
    assert env.shape == (4, 2)
    assert env[0].tolist() == pytest.approx([-0.05, 1.2]) and env[1].tolist() == pytest.approx([-0.1, 0.3])
    # a method without intervals: no envelope; one method: nothing to compare
    assert method_agreement({"x": m["x"], "w": _entry([0, 1, 0, 0])})["intervals_across_methods"] is None
    assert envelope_array(method_agreement({"x": m["x"], "w": _entry([0, 1, 0, 0])})) is None
    assert method_agreement({"x": m["x"]}) is None


def test_the_warning_only_above_the_threshold():
    close = method_agreement({"a": _entry([1, 0, 0, 0]), "b": _entry([1, 0.1, 0, 0])})  # 5.7 deg
    far = method_agreement({"a": _entry([1, 0, 0, 0]), "b": _entry([1, 0.5, 0, 0])})  # 26.6 deg
    assert close["angle_between_deg"] < DISAGREE_WARN_DEG < far["angle_between_deg"]
    assert disagreement_warning(close) is None and disagreement_warning(None) is None
    text = disagreement_warning(far)
    assert "26.6 deg apart" in text and "at least 13.3 deg" in text


def test_the_headline_shows_the_agreement_and_the_warning(tmp_path):
    import json

    ag = method_agreement({"a": _entry([1, 0, 0, 0], 0.1), "b": _entry([1, 0.5, 0, 0], 0.1)})
    ag["coverage_across_methods"] = 0.75
    weights = {"agreement": ag, "warning": disagreement_warning(ag)}
    rows = agreement_rows(weights).set_index("head")["value"]
    assert list(rows.index) == list(AGREEMENT_COLUMNS)
    assert rows[AGREEMENT_COLUMNS[1]] == pytest.approx(ag["angle_between_deg"] / 2)
    assert agreement_rows({}).empty
    wj = tmp_path / "w.json"
    wj.write_text(json.dumps(weights))
    table = write_headline(None, wj, tmp_path / "h.csv", tmp_path / "h.rst", "synthetic-tiny")
    rst = (tmp_path / "h.rst").read_text()
    assert "**Warning (value model):** the methods disagree" in rst
    assert "a vs b" in rst and "0.750" in rst
    # the envelope joins the weight rows as an interval under agreement.intervals_across_methods
    env = table[table["name"] == "agreement.intervals_across_methods"].set_index("head")
    assert env.loc["y_long", "ci_low"] == pytest.approx(-0.1)
    assert "Warning" not in headline_rst(table, "x")

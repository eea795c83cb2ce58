"""The propensity model learned from the logs (vmrec.propensity_model): calibration on a toy world whose
exposure probabilities are known, bad input, determinism, and that fitting reads no truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vmrec import propensity_model as pm

N_VIDEOS, N_USERS, T0 = 200, 60, 1_594_000_000.0


def _world(seed: int = 0):
    """A toy platform: video v has popularity q_v (sums to 1); a session of length L shows L draws with
    replacement in proportion to q, so its expected views of v - the exposure pi the model estimates - are
    L q_v. Daily show counts follow q, so the item statistics carry it too."""
    rng = np.random.default_rng(seed)
    q = rng.lognormal(0.0, 0.8, N_VIDEOS)
    q /= q.sum()
    cats = pd.DataFrame({"video_id": np.arange(N_VIDEOS, dtype=np.int32),
                         "feat": [list(rng.choice(31, rng.integers(1, 3), replace=False)) for _ in
                                  range(N_VIDEOS)]})
    days = np.array([20200705, 20200706, 20200707])
    daily = pd.DataFrame({"video_id": np.repeat(np.arange(N_VIDEOS), len(days)),
                          "date": np.tile(days, N_VIDEOS)})
    show = rng.poisson(np.repeat(q, len(days)) * 200_000)
    daily["show_cnt"] = show
    daily["play_cnt"] = rng.binomial(show, 0.9)
    daily["complete_play_cnt"] = rng.binomial(daily["play_cnt"], 0.3)
    daily["short_time_play_cnt"] = rng.binomial(daily["play_cnt"], 0.2)
    daily["video_duration"] = np.repeat(rng.uniform(5_000, 60_000, N_VIDEOS), len(days))
    users = pd.DataFrame({"user_id": np.arange(N_USERS, dtype=np.int32),
                          "user_active_degree": rng.choice(["high_active", "full_active", "UNKNOWN"],
                                                           N_USERS)})
    return q, daily, cats, users


def _sessions(q: np.ndarray, n: int, seed: int, first_id: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    length = rng.integers(2, 13, n)
    sid = np.repeat(np.arange(first_id, first_id + n), length)
    user = np.repeat(rng.integers(0, N_USERS, n), length)
    start = np.repeat(T0 + rng.uniform(0, 2 * 86400, n), length)
    return pd.DataFrame({"session_id": sid, "user_id": user, "video_id": rng.choice(N_VIDEOS, len(sid), p=q),
                         "start_time": start})


def _fit(views, world, **kw):
    _, daily, cats, users = world
    return pm.fit_propensity(views, daily, cats, users, **{"negatives": 50, "max_sessions": 2000, **kw})


@pytest.fixture(scope="module")
def toy():
    world = _world()
    return world, _sessions(world[0], 2000, seed=1)


@pytest.mark.parametrize("classifier", ["hgb", "logistic"])
def test_recovers_the_known_exposure(toy, classifier):
    world, views = toy
    q = world[0]
    model = _fit(views, world, classifier=classifier)
    # held-out sessions: every (session, video) of the catalogue against its true expected views L q_v
    held = _sessions(q, 400, seed=2, first_id=10_000).groupby("session_id").agg(
        user_id=("user_id", "first"), start_time=("start_time", "first"), length=("video_id", "size"))
    rows = held.loc[held.index.repeat(N_VIDEOS)].assign(video_id=np.tile(np.arange(N_VIDEOS), len(held)))
    true = rows["length"].to_numpy() * q[rows["video_id"].to_numpy()]
    pred = model.predict(rows["user_id"].to_numpy(), rows["video_id"].to_numpy(),
                         rows["start_time"].to_numpy(), rows["length"].to_numpy())
    t = pd.DataFrame(pm.calibration_rows("pi", "all", pred, true))
    summary, deciles = t.iloc[0], t.iloc[1:]
    assert summary["mean_pred"] == pytest.approx(summary["mean_true"], rel=0.08)
    assert summary["spearman"] > 0.9
    assert summary["ece"] < 0.1 * summary["mean_true"]
    ratio = deciles["mean_pred"] / deciles["mean_true"]
    assert ((ratio > 0.7) & (ratio < 1.3)).all(), deciles
    assert ((pred >= 0) & (pred <= 1)).all()


def test_deterministic_for_a_seed(toy):
    world, views = toy
    a = _fit(views, world, seed=3, max_sessions=500)
    b = _fit(views, world, seed=3, max_sessions=500)
    args = (views["user_id"].to_numpy()[:300], views["video_id"].to_numpy()[:300],
            views["start_time"].to_numpy()[:300], np.full(300, 5))
    np.testing.assert_array_equal(a.predict(*args), b.predict(*args))


def test_blocked_pairs_get_zero_and_are_never_negatives(toy):
    world, views = toy
    blocked = {0: np.arange(0, 50)}
    model = _fit(views[~((views["user_id"] == 0) & (views["video_id"] < 50))], world, blocked=blocked,
                 max_sessions=500)
    p = model.predict(np.zeros(100, np.int64), np.arange(100), np.full(100, T0), np.full(100, 5))
    assert (p[:50] == 0).all() and (p[50:] > 0).all()


def test_calibration_rows_weighted_and_plain():
    rng = np.random.default_rng(0)
    true = rng.uniform(0.01, 0.5, 2000)
    rows = pm.calibration_rows("pi", "all", true, true)
    assert rows[0]["ece"] == 0.0 and rows[0]["spearman"] == pytest.approx(1.0)
    assert rows[0]["log_ratio_mean"] == 0.0 and len(rows) == 11
    w = rng.uniform(1, 3, 2000)
    rows = pm.calibration_rows("pi", "all", 1.1 * true, true, weight=w)
    assert rows[0]["mean_pred"] == pytest.approx(1.1 * np.average(true, weights=w))
    assert rows[0]["log_ratio_mean"] == pytest.approx(np.log(1.1)) and np.isnan(rows[0]["spearman"])


@pytest.mark.parametrize("breakage, message", [
    (lambda v: v.drop(columns="start_time"), r"missing column\(s\) \['start_time'\]"),
    (lambda v: v.iloc[:0], "no rows"),
    (lambda v: v.assign(start_time=np.where(np.arange(len(v)) == 7, np.nan, v["start_time"])),
     r"'start_time' is not finite in 1 row\(s\), first at row 7"),
    (lambda v: v.assign(video_id=np.where(np.arange(len(v)) == 4, 9999, v["video_id"])),
     r"video 9999 \(row 4\)"),
    (lambda v: v.assign(start_time=np.where(np.arange(len(v)) == 0, T0 + 1e6, v["start_time"])),
     "more than one user_id or start_time"),
])
def test_bad_views_are_named(toy, breakage, message):
    world, views = toy
    with pytest.raises(ValueError, match=message):
        _fit(breakage(views.head(500).copy()), world)


def test_bad_side_tables_are_named(toy):
    world, views = toy
    q, daily, cats, users = world
    with pytest.raises(ValueError, match=r"item_daily_features: missing column\(s\) \['show_cnt'\]"):
        pm.fit_propensity(views, daily.drop(columns="show_cnt"), cats, users)
    bad = daily.assign(play_cnt=daily["play_cnt"].astype(float).where(daily.index != 3, np.inf))
    with pytest.raises(ValueError, match="item_daily_features: column 'play_cnt' is not finite .* row 3"):
        pm.fit_propensity(views, bad, cats, users)
    with pytest.raises(ValueError, match="user_features: missing column"):
        pm.fit_propensity(views, daily, cats, users.drop(columns="user_active_degree"))
    with pytest.raises(ValueError, match="classifier must be"):
        pm.fit_propensity(views, daily, cats, users, classifier="forest")


def _write(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def test_fitting_from_a_run_never_opens_truth(toy, tmp_path, monkeypatch):
    world, views = toy
    _, daily, cats, users = world
    results, truth = tmp_path / "results", tmp_path / "truth"
    s = views.assign(csv_row=np.arange(len(views)), split="train", position=0, timestamp=views["start_time"])
    _write(results / "sessions" / "sessions.parquet", s)
    _write(results / "tables" / "item_daily_features.parquet", daily)
    _write(results / "tables" / "item_categories.parquet", cats)
    _write(results / "tables" / "user_features.parquet", users)
    _write(results / "tables" / "small_matrix.parquet", pd.DataFrame({"user_id": [0], "video_id": [1]}))
    _write(truth / "pools.parquet", pd.DataFrame({"session_id": [0]}))
    opened = []
    real_read_table, real_open = pq.read_table, open

    def read_table(source, *a, **k):
        opened.append(str(source))
        return real_read_table(source, *a, **k)

    def spy_open(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(pq, "read_table", read_table)
    monkeypatch.setattr("builtins.open", spy_open)
    monkeypatch.setattr(pd, "read_parquet", lambda p, *a, **k: opened.append(str(p)) or pytest.fail(str(p)))
    model, _ = pm.fit_from_results(results, negatives=20, max_sessions=300)
    assert list(model.blocked) == [0] and model.blocked[0].tolist() == [1]
    assert opened and not [p for p in opened if str(truth) in p or "truth" in Path(p).parts], opened

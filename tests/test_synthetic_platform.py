"""The platform world (synthetic.world: platform): the pieces that make it harder than the simple one.

The release's formats and marginals are checked on both worlds in test_synthetic.py (fixture world_raw);
here: the platform's own heads, personalised retrieval, item daily counts from the logged views,
position and fatigue, the views' own hours, determinism, and truth_scorer on this world.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from vmrec.contracts import (
    PLATFORM_PROB_COLUMNS,
    PROB_COLUMNS,
    RAW_SUBDIR,
    TRUTH_BIG,
    TRUTH_JSON,
    TRUTH_PLATFORM_POOLS,
    TRUTH_POOLS,
)
from vmrec.synthetic import generate, head_probs, local_hour, make_world
from vmrec.synthetic import platform as plat

SEED = 2020


@pytest.fixture(scope="module")
def raw(tiny_platform_raw) -> Path:
    """The tiny platform world of conftest (generated once per test session)."""
    return tiny_platform_raw


@pytest.fixture(scope="module")
def world():
    return make_world("tiny", SEED, "platform")


def _shown_views(raw: Path) -> pd.DataFrame:
    """Big views (duplicates dropped) with session, position, play, duration, timestamp (ms)."""
    big = pd.read_csv(raw / RAW_SUBDIR / "big_matrix.csv")
    bp = pq.read_table(raw / "truth" / TRUTH_BIG).to_pandas()
    first = ~big.duplicated(keep="first").to_numpy()
    df = pd.concat([big[first].reset_index(drop=True),
                    bp.loc[first, ["session_id", *PROB_COLUMNS]].reset_index(drop=True)], axis=1)
    pools = pq.read_table(raw / "truth" / TRUTH_POOLS).to_pandas()
    shown = pools[pools["shown"]].rename(columns={c: c + "_start" for c in PROB_COLUMNS})
    df = df.merge(shown[["session_id", "video_id", "position", *(c + "_start" for c in PROB_COLUMNS)]],
                  on=["session_id", "video_id"], how="left", validate="one_to_one")
    assert df["position"].notna().all()
    df["ts_ms"] = np.rint(df["timestamp"] * 1000).astype(np.int64)
    return df


def test_truth_json_describes_the_platform(raw):
    truth = json.loads((raw / "truth" / TRUTH_JSON).read_text())
    assert truth["world"] == "platform"
    sec = truth["platform"]
    assert {"nonlinear_affinity", "position_fatigue", "platform_heads", "retrieval", "item_daily"} <= set(sec)
    assert sec["retrieval"]["weights"] == {"affinity": plat.RET_AFF, "popularity": plat.RET_POP,
                                           "recency": plat.RET_RECENCY}


def test_platform_heads_are_the_truth_with_a_stated_error(raw):
    """The policy's own heads: beside pools.parquet row by row; their AUC on labels drawn from the truth
    sits 0.02-0.12 below the truth's own (measured on tiny: 0.045-0.075), and they are not the truth."""
    pools = pq.read_table(raw / "truth" / TRUTH_POOLS).to_pandas()
    q = pq.read_table(raw / "truth" / TRUTH_PLATFORM_POOLS).to_pandas()
    assert list(q.columns) == ["session_id", "video_id", *PLATFORM_PROB_COLUMNS]
    assert (q[["session_id", "video_id"]].to_numpy() == pools[["session_id", "video_id"]].to_numpy()).all()
    measured = json.loads((raw / "truth" / TRUTH_JSON).read_text())["platform"]["platform_heads"]["measured"]
    for pc, qc in zip(PROB_COLUMNS, PLATFORM_PROB_COLUMNS, strict=True):
        p, qq = pools[pc].to_numpy(np.float64), q[qc].to_numpy(np.float64)
        a_true, a_plat = plat.expected_auc(p, p), plat.expected_auc(qq, p)
        assert 0.02 <= a_true - a_plat <= 0.12, f"{qc}: truth {a_true:.4f}, platform {a_plat:.4f}"
        assert measured[qc]["auc_platform"] == pytest.approx(a_plat, abs=1e-3)
        r = np.corrcoef(np.log(p / (1 - p)), np.log(qq / (1 - qq)))[0, 1]
        assert 0.5 < r < 0.97, f"{qc}: logit correlation {r:.3f}"


def test_policy_ranks_on_its_own_heads(raw, tiny_config):
    """Within a pool, the shown videos are better by the platform's value than by the true value."""
    w = np.array(list(tiny_config["synthetic"]["value_weights"].values()))
    pools = pq.read_table(raw / "truth" / TRUTH_POOLS).to_pandas()
    q = pq.read_table(raw / "truth" / TRUTH_PLATFORM_POOLS).to_pandas()
    vq = q[list(PLATFORM_PROB_COLUMNS)].to_numpy() @ w
    vp = pools[list(PROB_COLUMNS)].to_numpy() @ w
    shown = pools["shown"].to_numpy()

    def gap(v):  # shown minus unshown, in pool-level standard deviations
        z = pd.Series(v).groupby(pools["session_id"]).transform(lambda s: (s - s.mean()) / s.std())
        return z[shown].mean() - z[~shown].mean()

    assert gap(vq) > gap(vp) + 0.03  # measured on tiny: 0.70 vs 0.65


def test_retrieval_pools_follow_the_retrieval_score(raw, world):
    """Pools are personalised: their members have a higher retrieval affinity for the session's user than
    the user's average video, and than the same videos have for other users."""
    pools = pq.read_table(raw / "truth" / TRUTH_POOLS, columns=["user_id", "video_id"]).to_pandas()
    users = np.arange(world.n_users)
    aff = plat.retrieval_affinity(world, users)  # (U, V)
    a = aff[pools["user_id"], pools["video_id"]]
    z = (a - aff.mean(axis=1)[pools["user_id"]]) / aff.std(axis=1)[pools["user_id"]]
    assert z.mean() > 0.3
    # the same videos for random other users: personalisation, not popularity alone
    other = np.random.default_rng(0).integers(0, world.n_users, len(pools))
    z_other = (aff[other, pools["video_id"]] - aff.mean(axis=1)[other]) / aff.std(axis=1)[other]
    assert z.mean() > z_other.mean() + 0.2
    # popularity still matters
    lp = np.log(world.pop)
    assert lp[pools["video_id"]].mean() > lp.mean() + 0.3


def test_item_daily_counts_are_the_logged_views_scaled(raw, world):
    """show/play/complete counts of item_daily_features are PLATFORM_FACTOR x the counts over the logged
    views (big and timed small rows) of that video and day, within the noise band."""
    data = raw / RAW_SUBDIR
    big = pd.read_csv(data / "big_matrix.csv").drop_duplicates()
    small = pd.read_csv(data / "small_matrix.csv").dropna(subset=["timestamp"])
    views = pd.concat([big, small])
    local = pd.to_datetime(views["timestamp"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    views["date"] = local.dt.strftime("%Y%m%d").astype(int)
    views["complete"] = views["play_duration"] >= views["video_duration"]
    logged = views.groupby(["video_id", "date"]).agg(n=("play_duration", "size"), c=("complete", "sum"))
    daily = pd.read_csv(data / "item_daily_features.csv").set_index(["video_id", "date"])
    j = logged.join(daily[["show_cnt", "complete_play_cnt", "play_cnt"]], how="inner")
    assert len(j) >= 0.95 * len(logged[logged.index.get_level_values(1) >= 20200705])
    ratio = j["show_cnt"] / (plat.PLATFORM_FACTOR * j["n"])
    busy = j["n"] >= 5
    assert 0.95 <= ratio[busy].median() <= 1.2, ratio[busy].median()
    assert ((ratio[busy] > 0.6) & (ratio[busy] < 1.7)).mean() > 0.9
    # per video, the complete-play rate of the daily counts is the logged one
    per_v = j.groupby(level=0)[["n", "c", "complete_play_cnt", "play_cnt"]].sum()
    per_v = per_v[per_v["n"] >= 30]
    r = np.corrcoef(per_v["c"] / per_v["n"], per_v["complete_play_cnt"] / per_v["play_cnt"])[0, 1]
    assert r > 0.9
    assert (daily["complete_play_cnt"] <= daily["play_cnt"]).all()
    assert (daily["play_cnt"] <= daily["show_cnt"]).all()


def test_completion_falls_with_position(raw):
    """Against the true completion at the session start, the labels fall with list position (position
    and fatigue); in big_probs the row's own probability falls the same way."""
    df = _shown_views(raw)
    y = (df["play_duration"] >= 0.9 * df["video_duration"]).astype(float)
    resid = y - df["p_complete_start"]
    early, late = df["position"] <= 1, df["position"] >= 15
    assert late.sum() > 2000
    assert resid[late].mean() < resid[early].mean() - 0.03
    drop = df["p_complete"] - df["p_complete_start"]
    assert drop[late].mean() < drop[early].mean() - 0.03
    assert drop[late].mean() < -0.03


def test_each_view_at_its_own_hour_position_and_minutes(raw, world):
    """big_probs of a row = head_probs at the row's own local hour, with the position and fatigue offsets
    of its position and minutes since the session's first view (the hour moves on within a session)."""
    df = _shown_views(raw)
    start = df.groupby("session_id")["ts_ms"].transform("min")
    assert (df.loc[df["position"] == 0, "ts_ms"] == start[df["position"] == 0]).all()
    sub = df.sample(3000, random_state=0)
    minutes = (sub["ts_ms"] - start[sub.index]).to_numpy() / 60_000
    off = plat.context_offsets(sub["position"].to_numpy(), minutes)
    p = head_probs(world, sub["user_id"].to_numpy(), sub["video_id"].to_numpy(),
                   local_hour(sub["ts_ms"].to_numpy()), sub["video_duration"].to_numpy(), off)
    assert np.abs(p - sub[list(PROB_COLUMNS)].to_numpy()).max() < 1e-5
    # sessions spanning an hour boundary exist
    hour = pd.Series(local_hour(df["ts_ms"].to_numpy()).astype(int))
    hours = hour.groupby(df["session_id"]).nunique()
    assert (hours > 1).mean() > 0.05


def test_truth_scorer_rebuilds_the_pools_true_heads(raw):
    """value_model.scoring.truth_scorer on the platform world: the true heads at the session start, as in
    pools.parquet (not the platform's heads)."""
    from vmrec.value_model.scoring import truth_scorer

    df = _shown_views(raw)
    sess = df[["session_id", "position", "user_id", "timestamp"]]
    pools = pq.read_table(raw / "truth" / TRUTH_POOLS).to_pandas().head(5000)
    got = truth_scorer(raw / "truth", sess)(pools[["session_id", "video_id"]])
    assert np.abs(got[list(PROB_COLUMNS)].to_numpy() - pools[list(PROB_COLUMNS)].to_numpy()).max() < 1e-5


def test_truth_scorer_rebuilds_the_platforms_own_heads(raw, tiny_raw):
    """heads="platform": the platform's heads q of truth/platform_pools.parquet (what its policy ranked
    on), for the same rows; refused on the simple world, whose policy ranked on the truth."""
    from vmrec.value_model.scoring import truth_scorer

    df = _shown_views(raw)
    sess = df[["session_id", "position", "user_id", "timestamp"]]
    rows = pq.read_table(raw / "truth" / TRUTH_PLATFORM_POOLS).to_pandas().head(5000)
    got = truth_scorer(raw / "truth", sess, heads="platform")(rows[["session_id", "video_id"]])
    q = rows[list(PLATFORM_PROB_COLUMNS)].to_numpy()
    assert np.abs(got[list(PROB_COLUMNS)].to_numpy() - q).max() < 1e-5
    true = truth_scorer(raw / "truth", sess)(rows[["session_id", "video_id"]])
    assert np.abs(true[list(PROB_COLUMNS)].to_numpy() - q).mean() > 0.02
    with pytest.raises(ValueError, match="platform world only"):
        truth_scorer(tiny_raw / "truth", sess, heads="platform")
    with pytest.raises(ValueError, match="heads must be one of"):
        truth_scorer(raw / "truth", sess, heads="model")


def test_platform_heads_replace_the_true_heads_of_the_same_rows(raw):
    """value_model.inputs.platform_heads_long: the rows of pools.parquet (any subset, any order) with the
    platform's heads of the same (session, video); a row platform_pools.parquet lacks is named."""
    from vmrec.value_model.inputs import planted_world, platform_heads_long

    assert planted_world(raw / "truth") == "platform"
    pools = pq.read_table(raw / "truth" / TRUTH_POOLS).to_pandas()
    plat = pq.read_table(raw / "truth" / TRUTH_PLATFORM_POOLS).to_pandas()
    sub = pools.sample(3000, random_state=0)
    got = platform_heads_long(raw / "truth", sub)
    assert list(got.columns) == list(sub.columns) and len(got) == len(sub)
    assert (got["session_id"].to_numpy() == sub["session_id"].to_numpy()).all()
    q = plat.loc[sub.index, list(PLATFORM_PROB_COLUMNS)].to_numpy()  # same rows, same order in both files
    assert np.array_equal(got[list(PROB_COLUMNS)].to_numpy(), q)
    bad = sub.head(3).assign(video_id=-1)
    with pytest.raises(ValueError, match=r"no row for session_id \d+, video_id -1.*3 rows missing"):
        platform_heads_long(raw / "truth", bad)


def test_platform_deterministic_and_distinct_from_simple(tmp_path, raw, tiny_raw, tiny_config):
    """Byte-identical for a seed whatever the threads (the fixture ran on one thread, this on two)."""
    syn = tiny_config["synthetic"]
    generate(tmp_path / "a", "tiny", syn["seed"], syn["value_weights"], syn["noise_scale"], world="platform",
             threads=2)

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    a, ref, simple = digest(tmp_path / "a"), digest(raw), digest(tiny_raw)
    assert a == ref
    assert set(a) - set(simple) == {f"truth/{TRUTH_PLATFORM_POOLS}"}
    same_videos = f"{RAW_SUBDIR}/item_categories.csv"
    assert a[same_videos] == simple[same_videos]
    assert a[f"{RAW_SUBDIR}/big_matrix.csv"] != simple[f"{RAW_SUBDIR}/big_matrix.csv"]
    with pytest.raises(ValueError, match="world"):
        generate(tmp_path / "b", "tiny", 0, syn["value_weights"], 1.0, world="real")


# --- the threaded retrieval's building blocks -------------------------------------------------------------


def test_smallest_k_equals_the_argpartition_reference():
    """torch.topk with a tie fallback returns exactly what argpartition + a stable argsort return, ties
    (which topk orders its own way) and +inf (excluded videos) included, for per-row sizes."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 1500)).astype(np.float32)
    a[:, :200] = np.round(a[:, :200], 1)  # many exact ties
    a[::5, 700:1200] = np.inf
    a[3] = 1.0  # a row of nothing but ties
    for largest in (1, 2, 50, 333, 1499, 1500):
        sizes = rng.integers(1, largest + 1, len(a))
        sizes[0] = largest
        got, ref = plat.smallest_k(a, sizes), plat._smallest_k_reference(a, largest)
        valid = np.arange(largest)[None, :] < sizes[:, None]
        assert got.shape == ref.shape
        np.testing.assert_array_equal(got[valid], ref[valid], err_msg=f"largest size {largest}")


@pytest.mark.parametrize("before", [0, 1, 2])
def test_float32_stream_draws_any_slice_of_the_sequential_stream(before):
    """Float32Stream gives the uniforms rng.random(dtype=float32) would give in order, at any position
    (odd, even, after a kept half-draw), and leaves rng where the sequential draws would."""
    from vmrec.synthetic.parallel import Float32Stream

    rng, ref = np.random.default_rng(11), np.random.default_rng(11)
    rng.random(before, dtype=np.float32)
    ref.random(before, dtype=np.float32)
    stream = Float32Stream(rng)
    seq = ref.random((7, 13), dtype=np.float32).ravel()
    for pos, n in ((0, 1), (0, 91), (1, 5), (2, 8), (37, 40)):
        np.testing.assert_array_equal(stream.draw(pos, (n,)), seq[pos:pos + n], err_msg=f"pos {pos}")
    stream.finish(len(seq))
    np.testing.assert_array_equal(rng.random(5, dtype=np.float32), ref.random(5, dtype=np.float32))
    np.testing.assert_array_equal(rng.standard_normal(3), ref.standard_normal(3))
    assert not Float32Stream.supported(np.random.Generator(np.random.MT19937(1)))


def test_ordered_map_keeps_the_order_of_its_items():
    from vmrec.synthetic.parallel import ordered_map

    items = [(i, 0.001 * (7 - i % 7)) for i in range(40)]

    def slow(i, pause):
        import time

        time.sleep(pause)  # later items finish first: the order must come from the items
        return i * i

    for threads in (1, 2, 3):
        assert list(ordered_map(slow, iter(items), threads)) == [i * i for i, _ in items]

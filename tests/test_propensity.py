"""Planted propensities (synthetic.propensity) against exact values and simulation, and in the truth."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from vmrec.contracts import PROPENSITY_COLUMNS, TRUTH_BIG, TRUTH_POOLS
from vmrec.synthetic.propensity import list_inclusion, pool_inclusion


def _pools(rng, sizes):
    session = np.repeat(np.arange(len(sizes)), sizes)
    return session, rng.normal(0, 1.5, len(session))


def test_list_inclusion_top1_is_the_softmax():
    rng = np.random.default_rng(0)
    session, u = _pools(rng, [5, 8, 3])
    length = np.ones(len(u), np.int64)
    own = np.zeros(len(u), bool)
    p = list_inclusion(session, u, length, own, 20_000, np.random.default_rng(1))
    for s in range(3):
        m = session == s
        exact = np.exp(u[m]) / np.exp(u[m]).sum()
        assert np.abs(p[m] - exact).max() < 0.015  # 20,000 draws: sd <= 0.0036


def test_list_inclusion_sums_to_the_length_and_matches_simulation():
    rng = np.random.default_rng(2)
    sizes = [50, 60, 120]
    session, u = _pools(rng, sizes)
    L = np.repeat([10, 30, 7], sizes)
    own = np.zeros(len(u), bool)
    for s in range(len(sizes)):  # the policy's own draw: any valid top-L set
        own[np.flatnonzero(session == s)[: L[session == s][0]]] = True
    p = list_inclusion(session, u, L, own, 512, np.random.default_rng(3))
    assert np.allclose(np.bincount(session, weights=p), [10, 30, 7])
    assert (p[own] >= 1 / 513 - 1e-12).all()
    # brute force: rank the pools 4,000 times
    sim = np.zeros(len(u))
    r = np.random.default_rng(4)
    for _ in range(4000):
        for s in range(3):
            idx = np.flatnonzero(session == s)
            sc = u[idx] + r.gumbel(size=len(idx))
            sim[idx[np.argsort(-sc)[: L[idx[0]]]]] += 1
    assert np.abs(p - sim / 4000).max() < 0.1
    assert np.abs(p - sim / 4000).mean() < 0.02


def test_list_inclusion_rejects_bad_input():
    with pytest.raises(ValueError, match="contiguous"):
        list_inclusion(np.array([0, 1, 0]), np.zeros(3), np.ones(3, int), np.zeros(3, bool), 4,
                       np.random.default_rng(0))
    with pytest.raises(ValueError, match="1..pool size"):
        list_inclusion(np.zeros(3, int), np.zeros(3), np.full(3, 4), np.zeros(3, bool), 4,
                       np.random.default_rng(0))


def test_pool_inclusion_sums_to_size_and_matches_simulation():
    rng = np.random.default_rng(5)
    q = rng.pareto(1.2, 300) + 0.01
    q[:10] = 0.0
    p = pool_inclusion(q, 40)
    assert p.sum() == pytest.approx(40, rel=1e-6)
    assert (p[:10] == 0).all()
    hits = np.zeros(len(q))
    qq = q / q.sum()
    for _ in range(3000):  # the generator's rule: draws with replacement until 40 distinct
        seen: list[int] = []
        while len(seen) < 40:
            v = int(rng.choice(len(q), p=qq))
            if v not in seen:
                seen.append(v)
        hits[seen] += 1
    assert np.abs(p - hits / 3000).max() < 0.06
    assert pool_inclusion(q, 400)[10:].min() == 1.0


def test_truth_holds_the_propensities(tiny_platform_raw, tiny_raw):
    for raw, world in ((tiny_raw, "simple"), (tiny_platform_raw, "platform")):
        pools = pq.read_table(raw / "truth" / TRUTH_POOLS).to_pandas()
        big = pq.read_table(raw / "truth" / TRUTH_BIG).to_pandas()
        for name, df in (("pools", pools), ("big", big)):
            assert set(PROPENSITY_COLUMNS) <= set(df.columns), (world, name)
            assert df["p_list"].between(0, 1).all(), (world, name)
        # a list's in-list propensities sum to its planned length, at least the shown count
        per = pools.groupby("session_id").agg(s=("p_list", "sum"), n=("shown", "sum"))
        assert (per["s"] >= per["n"] - 1e-3).all()
        assert (big["p_list"] > 0).all()
        assert pools.loc[pools["shown"], "p_list"].mean() > pools.loc[~pools["shown"], "p_list"].mean() + 0.1
        if world == "simple":
            assert pools["p_pool"].between(0, 1).all()
            assert np.allclose(pools["propensity"], pools["p_pool"] * pools["p_list"], rtol=1e-5)
        else:
            assert pools["p_pool"].isna().all() and pools["propensity"].isna().all()
        # the views of big_probs carry their pool row's propensity
        m = big.drop_duplicates(["session_id", "video_id"]).merge(
            pools[pools["shown"]], on=["session_id", "video_id"], suffixes=("", "_pool"))
        assert len(m) > 0.9 * big.drop_duplicates(["session_id", "video_id"]).shape[0]
        assert np.allclose(m["p_list"], m["p_list_pool"])


def test_mean_field_inclusion_is_close_to_the_monte_carlo():
    rng = np.random.default_rng(6)
    sizes = [50, 50, 80, 120, 60]
    session, u = _pools(rng, sizes)
    L = np.repeat([13, 3, 40, 25, 60], sizes)
    own = np.zeros(len(u), bool)
    mc = list_inclusion(session, u, L, own, 4000, np.random.default_rng(7))
    mf = list_inclusion(session, u, L, own, 0, np.random.default_rng(7))
    assert np.allclose(np.bincount(session, weights=mf), [13, 3, 40, 25, 60])
    assert (mf[session == 4] == 1.0).all()  # the whole pool is shown
    assert np.abs(mf - mc).mean() < 0.02
    assert np.abs(mf - mc).max() < 0.12
    assert (mf > 0).all()

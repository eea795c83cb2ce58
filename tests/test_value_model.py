"""Value-model weights: simulator, embedding-matching estimator, Plackett-Luce, recovery on planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _toy_pools import toy_pools

from vmrec.contracts import HEADS, PROB_COLUMNS, TRUTH_POOLS
from vmrec.value_model.estimate import EstimationError, angle_deg, estimate_weights
from vmrec.value_model.plackett_luce import fit_plackett_luce
from vmrec.value_model.recovery import coverage, ranking_agreement, recovery_study
from vmrec.value_model.simulator import (
    PoolError,
    plant_lists,
    pools_from_long,
    rank_lists,
    resize_pools,
)

W_STAR = np.array([1.0, 0.8, 0.6, -1.2])
FAST = {"restarts": 2, "bootstrap": 0, "evals_per_restart": 150}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny tensors: threads only add contention on a shared 2-core machine


@pytest.fixture(scope="module")
def toy():
    return toy_pools(1000, 30, W_STAR, noise_scale=0.15, seed=3)


def test_rank_lists_takes_the_top_l_of_valid_candidates_in_order():
    P = np.zeros((1, 4, 4), dtype=np.float32)
    P[0, :, 0] = [0.1, 0.9, 0.5, 0.99]
    valid = np.array([[True, True, True, False]])
    out = rank_lists(P, valid, np.array([2]), np.array([1.0, 0, 0, 0]), noise=None)
    assert out.tolist() == [[1, 2]]  # slot 3 scores highest but is padding


def test_pools_from_long_puts_the_list_first_and_checks_positions():
    df = pd.DataFrame({
        "session_id": [5, 5, 5, 9, 9], "video_id": [1, 2, 3, 4, 5],
        "shown": [False, True, True, True, False], "position": [-1, 1, 0, 0, -1],
        **{c: [0.1, 0.2, 0.3, 0.4, 0.5] for c in PROB_COLUMNS},
    })
    pools = pools_from_long(df)
    assert pools.session_id.tolist() == [5, 9]
    assert pools.length.tolist() == [2, 1]
    assert pools.video_id[0].tolist() == [3, 2, 1]  # rank 0, rank 1, then the unshown candidate
    assert pools.shown.tolist() == [[0, 1], [0, -1]]
    assert pools.valid.tolist() == [[True, True, True], [True, True, False]]
    bad = df.assign(position=[-1, 2, 0, 0, -1])
    with pytest.raises(PoolError, match="session_id 5.*position 2"):
        pools_from_long(bad)
    with pytest.raises(PoolError, match="session_id 9 has no shown"):
        pools_from_long(df.assign(shown=[False, True, True, False, False]))


def test_plackett_luce_recovers_planted_weights_and_noise_scale(toy):
    pl = fit_plackett_luce(toy)
    assert angle_deg(pl.w, W_STAR) < 3.0
    assert pl.scale == pytest.approx(np.linalg.norm(W_STAR) / 0.15, rel=0.1)
    assert coverage(pl.intervals, W_STAR) >= 0.75


@pytest.mark.parametrize("loss", ["moments", "mmd"])
def test_embedding_matching_recovers_planted_weights(toy, loss):
    est = estimate_weights(toy, loss=loss, seed=0, progress=False, **FAST)
    assert angle_deg(est.w, W_STAR) < 8.0, est.w
    assert np.linalg.norm(est.w) == pytest.approx(1.0)
    assert est.w[0] > 0
    assert est.scale == pytest.approx(np.linalg.norm(W_STAR) / 0.15, rel=0.35)
    assert not est.diagnostics["weakly_identified"]
    assert est.diagnostics["jacobian_rank"] == len(HEADS)


def test_same_seed_same_estimate_and_bootstrap_intervals_bracket_it(toy):
    small = toy.take(np.arange(400))
    kw = {"restarts": 1, "bootstrap": 3, "evals_per_restart": 60, "evals_per_bootstrap": 30,
          "progress": False}
    a = estimate_weights(small, seed=7, **kw)
    b = estimate_weights(small, seed=7, **kw)
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.intervals, b.intervals)
    assert a.intervals.shape == (len(HEADS), 2)
    assert (a.intervals[:, 0] <= a.intervals[:, 1]).all()
    # each interval holds its own estimate (percentile intervals of short re-fits did not, on y_neg)
    assert ((a.intervals[:, 0] <= a.w) & (a.w <= a.intervals[:, 1])).all()
    assert a.scale_interval[0] <= a.scale <= a.scale_interval[1]


def test_too_few_sessions_is_a_clear_error(toy):
    with pytest.raises(EstimationError, match="5 session.*at least 30"):
        estimate_weights(toy.take(np.arange(5)), progress=False, **FAST)


def test_flat_utility_direction_is_flagged_weakly_identified():
    # every candidate has the same p_rewatch and p_neg: those weights cannot move any ranking. The
    # Jacobian is a finite difference of piecewise-constant moments, whose noise shrinks with the sessions:
    # with 600 the flat directions' singular values sat at the 5% rank tolerance (flagged on one machine,
    # not on another: float paths differ); with 3,000 the smallest is at 1-3% of the largest (6 seeds, all
    # flagged)
    pools = toy_pools(3000, 30, W_STAR, noise_scale=0.15, seed=1)
    pools.P[:, :, 2:] = 0.5
    pools = plant_lists(pools, W_STAR, 0.15, seed=2)
    est = estimate_weights(pools, progress=False, restarts=1, bootstrap=0, evals_per_restart=80)
    assert est.diagnostics["weakly_identified"]
    assert est.diagnostics["jacobian_rank"] < len(HEADS)


def test_resize_pools_keeps_lists_and_shrinks_the_rest(toy):
    half = resize_pools(toy, 0.5, popularity=np.ones(1000), seed=0)
    extra_before = toy.valid.sum(1) - toy.length
    assert (half.valid.sum(1) - half.length).tolist() == (extra_before // 2).tolist()
    # the observed lists are the same videos in the same order
    for s in range(20):
        L = toy.length[s]
        np.testing.assert_array_equal(half.video_id[s, half.shown[s, :L]], toy.video_id[s, toy.shown[s, :L]])
        np.testing.assert_array_equal(half.P[s, half.shown[s, :L]], toy.P[s, toy.shown[s, :L]])


def test_ranking_agreement_is_perfect_for_the_same_direction(toy):
    tau, top = ranking_agreement(toy, 3 * W_STAR, W_STAR)
    assert tau == pytest.approx(1.0) and top == pytest.approx(1.0)
    tau, _ = ranking_agreement(toy, -W_STAR, W_STAR)
    assert tau == pytest.approx(-1.0)


def test_ranking_agreement_equals_kendall_tau_and_top_k_overlap_per_session():
    """On pools of very different sizes (padding in different slots): the mean of scipy's Kendall tau per
    session and of the top-10 overlap computed one session at a time."""
    from dataclasses import replace

    from scipy.stats import kendalltau

    rng = np.random.default_rng(4)
    pools = toy_pools(300, 40, W_STAR, noise_scale=0.15, seed=8)
    sizes = rng.integers(2, 41, pools.n_sessions)
    valid = np.zeros_like(pools.valid)
    for s, n in enumerate(sizes):
        valid[s, rng.choice(pools.valid.shape[1], n, replace=False)] = True
    pools = replace(pools, valid=valid)
    w_hat = W_STAR + rng.normal(0, 0.5, 4)
    taus, tops = [], []
    for s in range(pools.n_sessions):
        a, b = pools.P[s, valid[s]].astype(float) @ w_hat, pools.P[s, valid[s]].astype(float) @ W_STAR
        taus.append(kendalltau(a, b).statistic)
        k = min(10, len(a))
        tops.append(len(set(np.argsort(-a)[:k]) & set(np.argsort(-b)[:k])) / k)
    tau, top = ranking_agreement(pools, w_hat, W_STAR, chunk=64)
    assert 0.2 < tau < 0.95  # a real disagreement, so the comparison means something
    assert tau == pytest.approx(np.mean(taus), abs=1e-12)
    assert top == pytest.approx(np.mean(tops), abs=1e-12)
    # chunks capped at max_pairs (session, pair) cells to bound memory: the same means
    halved = ranking_agreement(pools, w_hat, W_STAR, chunk=64, max_pairs=500)
    assert halved == pytest.approx((tau, top), abs=1e-12)


def test_recovery_on_tiny_planted_truth(tiny_raw):
    """Tiny synthetic data (~3,200 sessions, 800 used): Plackett-Luce within 3 degrees of the planted w*,
    embedding matching within a looser 15 degrees (5 degrees is the bar at the `small` scale, see the
    recovery rule)."""
    pools = pools_from_long(pd.read_parquet(tiny_raw / "truth" / TRUTH_POOLS))
    table = recovery_study(pools, [dict(zip(HEADS, W_STAR, strict=True))], [0.15],
                           estimate_kwargs={**FAST, "restarts": 3}, max_sessions=800, seed=0,
                           progress=False)
    angles = table.set_index("method")["angle_deg"]
    assert angles["plackett_luce"] < 3.0
    assert angles["embedding"] < 15.0


def test_batched_simulation_equals_ranking_each_candidate_explicitly(toy):
    """The batched threshold simulator gives exactly the embeddings of the explicit top-L lists that
    rank_lists builds with the same Gumbel draws, for every candidate w of a population."""
    from vmrec.value_model.embeddings import ListEmbedder
    from vmrec.value_model.simulator import Simulator

    pools = toy.take(np.arange(200))
    sim = Simulator(pools, ListEmbedder("heads"), seed=11)
    W = np.array([W_STAR, 5 * W_STAR, [0.2, -1.0, 0.5, 0.3]])
    batch = sim.embed_batch(W).numpy()
    g = np.random.default_rng(11).gumbel(size=pools.valid.shape).astype(np.float32)
    for i, w in enumerate(W):
        lists = rank_lists(pools.P, pools.valid, pools.length, w, g)
        ref = Simulator(pools.with_lists(lists), ListEmbedder("heads"), seed=0).obs.numpy()
        np.testing.assert_allclose(batch[i], ref, atol=1e-5)


def _with_content(pools, n_features: int = 3, seed: int = 0):
    """Pools with per-video content features that carry part of each candidate's heads (a noisy linear
    map of its logits), as tags and duration do on KuaiRec."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    logit = np.log(pools.P / (1 - pools.P))
    A = rng.normal(size=(len(HEADS), n_features))
    content = logit @ A + rng.normal(scale=0.5, size=pools.P.shape[:2] + (n_features,))
    return replace(pools, content=content.astype(np.float32))


def test_content_embedding_describes_a_list_by_its_videos_content_not_its_heads(toy):
    """`content`: mean and spread of the content over the list, its mean over the top half, the first
    item's; the heads do not enter (other heads, same lists: same embedding)."""
    from dataclasses import replace

    from vmrec.value_model.embeddings import ListEmbedder
    from vmrec.value_model.simulator import Simulator

    pools = _with_content(toy.take(np.arange(50)))
    obs = Simulator(pools, ListEmbedder("content"), seed=0).obs.numpy()
    for s in range(50):
        L = int(pools.length[s])
        c = pools.content[s, pools.shown[s, :L]].astype(np.float64)
        want = np.concatenate([c.mean(0), c.std(0), c[: (L + 1) // 2].mean(0), c[0]])
        np.testing.assert_allclose(obs[s], want, atol=1e-4)
    other = replace(pools, P=np.random.default_rng(1).uniform(0.01, 0.99, pools.P.shape).astype(np.float32))
    np.testing.assert_array_equal(Simulator(other, ListEmbedder("content"), seed=0).obs.numpy(), obs)
    with pytest.raises(ValueError, match="content features"):
        Simulator(toy.take(np.arange(5)), ListEmbedder("content"), seed=0)


def test_content_embedding_recovers_planted_weights(toy):
    """Ranking by the heads and matching the lists' content recovers w* when the content carries the heads."""
    pools = _with_content(toy, n_features=8)
    est = estimate_weights(pools, embedding="content", seed=0, progress=False, **FAST)
    assert angle_deg(est.w, W_STAR) < 10.0, est.w


def test_plackett_luce_newton_matches_a_generic_optimiser(toy):
    from scipy.optimize import minimize

    from vmrec.value_model.plackett_luce import _chunks, _nll_grad_hess

    pools = toy.take(np.arange(300))
    pl = fit_plackett_luce(pools)
    chunks = _chunks(pools)
    res = minimize(lambda b: _nll_grad_hess(b, chunks)[:2], np.zeros(4), jac=True, method="BFGS")
    np.testing.assert_allclose(pl.w * pl.scale, res.x, rtol=1e-3, atol=1e-3)
    assert pl.loglik == pytest.approx(-res.fun, rel=1e-8)


def test_bootstrap_redraws_simulation_noise_so_replicates_differ(toy):
    small = toy.take(np.arange(300))
    est = estimate_weights(small, seed=1, restarts=1, bootstrap=4, evals_per_restart=60,
                           evals_per_bootstrap=30, progress=False)
    assert len({tuple(np.round(w, 6)) for w in est.bootstrap_w}) >= 2
    assert (est.intervals[:, 1] > est.intervals[:, 0]).all()
    assert "simulation noise" in est.diagnostics["bootstrap"]["resamples"]


def test_sensitivity_table_is_complete_when_pools_can_be_drawn(toy):
    """With pools drawn by us (source: model) every variant, x2 included, is estimated."""
    from vmrec.value_model.recovery import sensitivity_study

    def make(factor, tilt):
        return toy_pools(300, max(4, int(30 * factor)), W_STAR, 0.15, seed=5 + int(tilt))

    table = sensitivity_study(make, base_tilt=True, w_base=W_STAR / np.linalg.norm(W_STAR),
                              scale_base=13.0, w_star=W_STAR, estimate_kwargs={}, seed=0, max_evals=60,
                              progress=False)
    assert table[["pool_factor", "popularity_tilt"]].values.tolist() == [
        [0.5, True], [2.0, True], [1.0, False], [0.5, False]]
    assert (table["note"] == "").all()
    assert table["angle_to_truth_deg"].notna().all()
    assert (table["mean_pool_size"].iloc[1] > table["mean_pool_size"].iloc[0])


def test_subsample_long_keeps_the_sessions_subsample_sessions_keeps(toy):
    from vmrec.value_model.simulator import subsample_long, subsample_sessions

    rows = [(s, v) for s in toy.session_id for v in range(3)]
    long = pd.DataFrame(rows, columns=["session_id", "video_id"])
    kept = subsample_long(long, 100, seed=4)
    assert sorted(kept["session_id"].unique()) == subsample_sessions(toy, 100, seed=4).session_id.tolist()
    assert subsample_long(long, 10_000, seed=4) is long


# --- pools drawn per session (source: model) -------------------------------------------------------------
def _catalogue_world(n_videos=300, n_sessions=1500, pool=30, seed=0):
    """A policy that draws each session's pool from a popularity-weighted catalogue and shows the top L by
    w*.p + Gumbel: returns per-video head probabilities, popularity and the long table of shown lists."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n_videos, 1))
    z = np.concatenate([1.2 * q - 0.3, 0.9 * q - 0.8, 0.7 * q - 2.0, -1.0 * q - 1.0], axis=1)
    P = 1 / (1 + np.exp(-(z + rng.normal(scale=0.8, size=(n_videos, 4)))))
    pop = np.exp(rng.normal(size=n_videos))
    pop /= pop.sum()
    rows = []
    for s in range(n_sessions):
        L = int(min(rng.geometric(1 / 5), pool // 2))
        cand = rng.choice(n_videos, size=pool, replace=False, p=pop)
        score = P[cand] @ (W_STAR / 0.3) + rng.gumbel(size=pool)
        shown = cand[np.argsort(-score)[:L]]
        rows.append(pd.DataFrame({"session_id": s, "video_id": shown, "position": np.arange(L),
                                  "user_id": s % 50, "date": 20200705}))
    return P, pop, pd.concat(rows, ignore_index=True)


def _scored(long, P):
    return long.assign(**{c: P[long["video_id"].to_numpy(), k] for k, c in enumerate(PROB_COLUMNS)})


def test_fresh_pools_rank_new_candidates_and_only_embed_the_list():
    from vmrec.value_model.scoring import draw_pools

    sess = pd.DataFrame({"session_id": [1, 1, 1, 2, 2], "video_id": [10, 11, 12, 10, 13],
                         "position": [0, 1, 2, 0, 1], "user_id": [7, 7, 7, 8, 8], "date": 20200705})
    ref = pd.concat([sess, pd.DataFrame({"session_id": 3, "video_id": np.arange(20, 60), "position": 0,
                                         "user_id": 9, "date": 20200705})])
    blocked = {7: np.array([20, 21, 22])}
    long = draw_pools(sess, 8, True, seed=0, progress=False, blocked=blocked, reference=ref)
    for sid, L in ((1, 3), (2, 2)):
        g = long[long["session_id"] == sid]
        observed = sess.loc[sess["session_id"] == sid, "video_id"].tolist()
        assert g.loc[g["shown"], "video_id"].tolist() == observed
        assert not g.loc[g["shown"], "eligible"].any()  # the observed list is embedded, not ranked
        fresh = g.loc[~g["shown"], "video_id"]
        assert len(fresh) == max(8, 2 * L) and fresh.is_unique and g.loc[~g["shown"], "eligible"].all()
    assert not long.loc[long["session_id"] == 1, "video_id"].isin([20, 21, 22]).any()  # blocked pairs
    legacy = draw_pools(sess, 8, False, seed=0, progress=False, include_shown=True, reference=ref)
    g = legacy[legacy["session_id"] == 1]
    assert len(g) == 8 and g["eligible"].all() and g["video_id"].is_unique


def test_simulated_lists_never_pick_slots_that_are_not_eligible():
    from vmrec.value_model.embeddings import ListEmbedder
    from vmrec.value_model.simulator import Simulator

    long = pd.DataFrame({"session_id": 0, "video_id": [1, 2, 3, 4, 5, 6], "shown": [True, False, False, False,
                         False, False], "position": [0, -1, -1, -1, -1, -1],
                         "eligible": [False, True, True, True, True, True]})
    P = np.full((7, 4), 0.1)
    P[1] = [0.99, 0.99, 0.99, 0.0]  # the shown video is by far the best: ranked, it would always win
    pools = pools_from_long(_scored(long, P))
    sim = Simulator(pools, ListEmbedder("heads"), seed=0)
    e = sim.embed_sim(W_STAR * 50).numpy()
    assert e[0, 0] == pytest.approx(0.1)  # the simulated list's mean p_complete: never the shown video
    assert sim.obs.numpy()[0, 0] == pytest.approx(0.99)


def test_fresh_pools_drawn_like_the_policys_recover_w_star():
    """Pools drawn as the policy drew its own (fresh, same candidate distribution, the observed list only
    embedded) recover w* from model-free probabilities."""
    from vmrec.value_model.scoring import draw_pools

    P, pop, sess = _catalogue_world()
    ref = pd.DataFrame({"video_id": np.arange(len(pop)), "date": 20200705, "session_id": -1, "position": 0,
                        "user_id": -1}).loc[np.repeat(np.arange(len(pop)), np.rint(pop * 1e5).astype(int))]
    long = draw_pools(sess, 30, True, seed=1, progress=False, reference=ref)
    est = estimate_weights(pools_from_long(_scored(long, P)), seed=0, **FAST)
    assert angle_deg(est.w, W_STAR) < 6.0


# --- the policy's own pools scored with a model's heads (synthetic reference) ---------------------------
def test_logged_pool_frames_point_each_planted_session_at_its_first_view():
    from vmrec.value_model.scoring import logged_pool_frames

    pools = pd.DataFrame({"session_id": [5, 5, 5, 9, 9], "user_id": [1, 1, 1, 2, 2],
                          "video_id": [30, 31, 32, 30, 33], "shown": [True, True, False, True, False],
                          "position": [0, 1, -1, 0, -1], "p_complete": 0.5, "p_long": 0.5, "p_rewatch": 0.1,
                          "p_neg": 0.2})
    big_probs = pd.DataFrame({"csv_row": [0, 1, 2], "session_id": [5, 5, 9], "video_id": [30, 31, 30]})
    edges = pd.DataFrame({"edge_id": [100, 101, 102, 7], "source": ["big", "big", "big", "small"],
                          "csv_row": [0, 1, 2, 0], "date": [20200701, 20200701, 20200702, 20200801]})
    long, sess = logged_pool_frames(pools, big_probs, edges)
    assert sess.set_index("session_id")[["edge_id", "user_id", "date"]].to_dict("index") == {
        5: {"edge_id": 100, "user_id": 1, "date": 20200701},
        9: {"edge_id": 102, "user_id": 2, "date": 20200702}}
    assert (sess["position"] == 0).all()
    assert long.groupby("session_id")["date"].first().to_dict() == {5: 20200701, 9: 20200702}
    assert not {"user_id", *PROB_COLUMNS} & set(long.columns) and len(long) == 5


def test_planted_sessions_in_picks_sessions_by_their_first_views_split():
    """The logged-pools reference keeps the planted sessions whose first shown view is in the splits."""
    from vmrec.value_model.scoring import planted_sessions_in

    pools = pd.DataFrame({"session_id": [5, 5, 5, 9, 9, 11], "user_id": [1, 1, 1, 2, 2, 3],
                          "video_id": [30, 31, 32, 30, 33, 34],
                          "shown": [True, True, False, True, False, True], "position": [0, 1, -1, 0, -1, 0]})
    big_probs = pd.DataFrame({"csv_row": [0, 1, 2, 3], "session_id": [5, 5, 9, 11],
                              "video_id": [30, 31, 30, 34]})
    # session 5 starts in train and runs into val: its first view decides
    edges = pd.DataFrame({"edge_id": [100, 101, 102, 103], "source": ["big", "big", "big", "big"],
                          "csv_row": [0, 1, 2, 3], "split": ["train", "val", "test", "val"]})
    assert planted_sessions_in(pools, big_probs, edges, ["val", "test"]).tolist() == [9, 11]
    assert planted_sessions_in(pools, big_probs, edges, ["train"]).tolist() == [5]


def test_held_out_sessions_keep_the_splits_or_say_what_is_there():
    from vmrec.value_model.scoring import held_out_sessions

    sess = pd.DataFrame({"session_id": np.repeat(np.arange(50), 2), "position": np.tile([0, 1], 50),
                         "split": np.repeat(np.where(np.arange(50) < 40, "train", "test"), 2)})
    kept = held_out_sessions(sess, ["test"], min_sessions=5)
    assert kept["session_id"].unique().tolist() == list(range(40, 50)) and len(kept) == 20
    with pytest.raises(ValueError, match=r"\['test'\] keeps 10 of 50 sessions.*30.*'train': 40.*\[train, "):
        held_out_sessions(sess, ["test"])


def test_pipeline_estimate_reports_the_same_heads_on_the_logged_pools(tiny_workdir):
    """The default run (source: model) on synthetic data re-estimates on the policy's own pools with the same
    heads (embedding matching with the configured and the content embedding, and Plackett-Luce), beside the
    estimate from drawn pools."""
    import json

    w = json.loads((tiny_workdir.results / "value_model" / "weights.json").read_text())
    ref = w["reference"]
    for name in ("logged_pools", "logged_pools_plackett_luce", "logged_pools_content"):
        assert set(ref[name]["w"]) == set(HEADS), name
        assert np.linalg.norm(list(ref[name]["w"].values())) == pytest.approx(1.0)
        assert 0 <= ref[name]["angle_error_deg"] <= 180
    assert w["settings"]["source"] == "model" and "logged_pools_note" in ref
    # the same estimators with the true heads and, in the platform world (config.yaml's default), with the
    # platform's own heads that its policy ranked on; the simple world has no such heads
    platform = tiny_workdir.dataset.endswith("-platform")
    planted = ["true_heads_pool_marginal", "true_heads_plackett_luce"]
    planted += ["platform_heads_pool_marginal", "platform_heads_plackett_luce"] if platform else []
    for name in planted:
        assert set(ref[name]["w"]) == set(HEADS) and 0 <= ref[name]["angle_error_deg"] <= 180, name
    assert "planted_heads_note" in ref
    assert {k for k in ref if k.startswith(("true_heads", "platform_heads"))} == set(planted)
    # both estimators side by side, the default one reported as w_hat, each scored against w*
    assert set(w["methods"]) == {"pool-marginal Plackett-Luce", "embedding matching"}
    assert w["method"] == "embedding matching" and w["w_hat"] == w["methods"][w["method"]]["w"]  # the default
    for m in w["methods"].values():
        assert set(m["w"]) == set(HEADS) and set(m["intervals"]) == set(HEADS)
        assert 0 <= m["angle_error_deg"] <= 180 and -1 <= m["kendall_tau"] <= 1
        assert 0 <= m["top10_overlap"] <= 1
        assert 0 <= m["interval_coverage"] <= 1 and "weakly_identified" in m["diagnostics"]
    rec = pd.read_csv(tiny_workdir.results / "value_model" / "recovery.csv")
    assert "marginal_pl_pools_unknown" in set(rec["method"])
    # estimated on held-out sessions only (value_model.session_splits: none of their views trained the heads)
    assert "sessions of splits ['val', 'test']" in w["settings"]["pools"]
    sess = pd.read_parquet(tiny_workdir.results / "sessions" / "sessions.parquet",
                           columns=["session_id", "split"])
    held = sess.loc[sess["split"].isin(["val", "test"]), "session_id"].nunique()
    assert 0 < w["n_sessions"] == min(held, w["settings"]["max_sessions"]) < sess["session_id"].nunique()


def test_pool_draws_follow_the_candidate_weights_without_replacement():
    """The vectorised draw is sampling without replacement in proportion to views: the first candidate of
    each pool is video i with probability w_i / sum(w), and no pool repeats a video."""
    from vmrec.value_model.scoring import draw_pools

    w = np.array([1, 2, 3, 4, 10])
    ref = pd.DataFrame({"video_id": np.repeat(np.arange(5), w), "date": 20200705})
    n = 6000
    sess = pd.DataFrame({"session_id": np.arange(n), "video_id": 99, "position": 0, "user_id": 1,
                         "date": 20200705})
    long = draw_pools(sess, 3, True, seed=3, progress=False, reference=ref, chunk=700)
    drawn = long[~long["shown"]]
    assert (drawn.groupby("session_id").size() == 3).all()
    assert not drawn.duplicated(["session_id", "video_id"]).any()
    first = drawn.groupby("session_id")["video_id"].first()
    freq = np.bincount(first, minlength=5) / n
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.015)
    again = draw_pools(sess, 3, True, seed=3, progress=False, reference=ref, chunk=700)
    pd.testing.assert_frame_equal(long, again)  # deterministic with the seed


def test_one_recovery_case_alone_gives_its_rows_of_the_whole_study(toy, tmp_path):
    """Rule recovery_case runs one planted w* per job: alone, a case gives the rows the whole study gives
    it (its seeds follow its number), and the gather puts the cases back together in order."""
    from vmrec.config import ESTIMATOR_KEYS, RECOVERY_KEYS
    from vmrec.value_model.pipeline import gather_recovery, run_recovery_case

    planted = [dict(zip(HEADS, W_STAR, strict=True)), {"y_complete": 1.0, "y_long": 0.2, "y_rewatch": 0.3,
                                                       "y_neg": -2.5}]
    shared = {"noise_levels": [0.15], "max_sessions": 300, "bootstrap": 2, "restarts": 1, "loss": "moments",
              "embedding": "heads", "evals_per_restart": 60, "evals_per_bootstrap": 20}
    assert set(shared) == set(RECOVERY_KEYS) | set(ESTIMATOR_KEYS)
    kw = {k: shared[k] for k in (*ESTIMATOR_KEYS, "restarts", "bootstrap")}
    whole = recovery_study(toy, planted, shared["noise_levels"], estimate_kwargs=kw,
                           max_sessions=shared["max_sessions"], seed=5, progress=False)
    csvs = []
    for case in (1, 0):  # any order: the gather sorts by case
        csvs.append(tmp_path / f"case_{case}.csv")
        alone = run_recovery_case(toy, settings={"planted": planted[case], **shared}, case=case, seed=5,
                                  device="cpu", out_csv=csvs[-1], progress=False)
        rows = whole[whole["case"] == case].drop(columns="seconds").reset_index(drop=True)
        pd.testing.assert_frame_equal(alone.drop(columns="seconds"), rows)
    gather_recovery(csvs, tmp_path / "recovery.csv", tmp_path / "recovery.png")
    whole.to_csv(tmp_path / "whole.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "recovery.csv").drop(columns="seconds"),
                                  pd.read_csv(tmp_path / "whole.csv").drop(columns="seconds"))
    assert (tmp_path / "recovery.png").read_bytes()[:4] == b"\x89PNG"

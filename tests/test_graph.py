"""Graph tensors: leak-free message/target separation, train-only standardisation, safe loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from _fake_edges import make_fake_edges

from vmrec.contracts import HEADS, SPLITS
from vmrec.graph import build_graph, build_graph_from_parquet, load_graph, save_graph


@pytest.fixture(scope="module")
def fake():
    edges, _ = make_fake_edges(n_users=60, n_videos=80, n_big=4000, n_small=1000, seed=1)
    return edges, build_graph(edges, target_frac=0.4)


def test_train_messages_are_older_than_train_targets_and_disjoint(fake):
    """Every train edge is a train target; the GraphSAGE targets (train_target_mask, the newest
    target_frac) are disjoint from and newer than the train view's (labelled) message edges."""
    edges, g = fake
    ts = edges.set_index("edge_id")["timestamp"]
    train_ids = set(edges.loc[edges["split"] == "train", "edge_id"])
    assert set(g["train_edge_id"].numpy()) == train_ids
    mask = g["train_target_mask"].numpy()
    targets = g["train_edge_id"].numpy()[mask]
    assert len(targets) == round(0.4 * len(train_ids))
    # message edges are identified through (user, video, label) rows: rebuild their edge ids by time order
    train = edges[edges["split"] == "train"].sort_values(["timestamp", "edge_id"])
    msg_ids = train["edge_id"].to_numpy()[: len(g["train_msg_user"])]
    assert set(msg_ids) == set(g["train_edge_id"].numpy()[~mask])
    assert not set(msg_ids) & set(targets)
    assert ts.loc[msg_ids].max() <= ts.loc[targets].min()
    # the eval view passes messages over every train edge, and no val/test/small edge
    assert len(g["eval_msg_user"]) == len(train_ids)
    for s in SPLITS[1:]:
        assert not set(g[f"{s}_edge_id"].numpy()) & train_ids


def test_lightgcn_adjacency_is_symmetric_normalised(fake):
    """LightGCN's exposure graph: D^-1/2 A D^-1/2 over users + videos, symmetric, label-free."""
    from vmrec.graph import sym_norm_adjacency

    _, g = fake
    u, v = g["eval_msg_user"], g["eval_msg_video"]
    nu, nv = len(g["user_ids"]), len(g["video_ids"])
    a = sym_norm_adjacency(u, v, nu, nv).to_dense().double()
    dense = torch.zeros(nu + nv, nu + nv, dtype=torch.float64)
    dense.index_put_((u, v + nu), torch.ones(len(u), dtype=torch.float64), accumulate=True)
    dense = dense + dense.T
    d = dense.sum(1).clamp(min=1).rsqrt()
    torch.testing.assert_close(a, d[:, None] * dense * d[None, :], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a, a.T)


def test_standardisation_is_fitted_on_train_only(fake):
    edges, g = fake
    x = edges.loc[edges["split"] == "train", g["feature_names"]].to_numpy(np.float64)
    np.testing.assert_allclose(g["x_mean"].numpy(), x.mean(0), rtol=1e-4, atol=1e-5)
    # changing val/test/small features does not change the statistics
    edges2 = edges.copy()
    edges2.loc[edges2["split"] != "train", g["feature_names"]] = 1e6
    g2 = build_graph(edges2, target_frac=0.4)
    assert torch.equal(g["x_mean"], g2["x_mean"]) and torch.equal(g["x_std"], g2["x_std"])


def test_node_features_use_message_edges_only(fake):
    edges, g = fake
    # flipping the labels of the GraphSAGE train targets leaves the train view's node features unchanged
    edges2 = edges.copy()
    tgt = edges2["edge_id"].isin(g["train_edge_id"].numpy()[g["train_target_mask"].numpy()])
    edges2.loc[tgt, list(HEADS)] = 1 - edges2.loc[tgt, list(HEADS)]
    g2 = build_graph(edges2, target_frac=0.4)
    assert torch.equal(g["train_user_x"], g2["train_user_x"])
    assert torch.equal(g["train_video_x"], g2["train_video_x"])
    assert torch.equal(g["train_msg_y"], g2["train_msg_y"])


def test_graph_round_trip_and_corruption(fake, tmp_path):
    _, g = fake
    path = tmp_path / "graph.pt"
    save_graph(g, path)
    g2 = load_graph(path)
    assert g2["feature_names"] == g["feature_names"]
    assert torch.equal(g2["val_x"], g["val_x"])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot read graph tensors .*graph.pt"):
        load_graph(path)


def test_bad_edge_tables_are_rejected(fake):
    edges, _ = fake
    with pytest.raises(ValueError, match=r"missing column\(s\) \['y_neg'\]"):
        build_graph(edges.drop(columns=["y_neg"]))
    bad = edges.copy()
    bad.loc[5, "f_ctx_hour"] = np.nan
    with pytest.raises(ValueError, match="'f_ctx_hour' has 1 null.*row 5"):
        build_graph(bad)


def test_graph_of_tiny_synthetic_features(tiny_features):
    edges = pd.read_parquet(tiny_features / "edges.parquet")
    g = build_graph(edges, target_frac=0.5)
    feats = [c for c in edges.columns if c.startswith("f_")]
    assert g["feature_names"] == feats
    n_train = int((edges["split"] == "train").sum())
    assert len(g["eval_msg_user"]) == n_train
    assert len(g["train_edge_id"]) == n_train  # every train edge is a target (GraphSAGE: the mask)
    assert len(g["train_msg_user"]) + int(g["train_target_mask"].sum()) == n_train
    for s in SPLITS[1:]:
        assert len(g[f"{s}_edge_id"]) == int((edges["split"] == s).sum())
    floats = [k for k in g if isinstance(g[k], torch.Tensor) and g[k].is_floating_point()]
    assert all(torch.isfinite(g[k]).all() for k in floats)


def test_graph_from_parquet_streams_columns_to_the_same_tensors(fake, tmp_path):
    edges = fake[0]
    path = tmp_path / "edges.parquet"
    edges.to_parquet(path)
    ref = build_graph(edges, target_frac=0.5)
    got = build_graph_from_parquet(path, target_frac=0.5)
    half = build_graph_from_parquet(path, target_frac=0.5, x_dtype="float16")
    assert got["feature_names"] == ref["feature_names"]
    for k, t in ref.items():
        if isinstance(t, torch.Tensor):
            torch.testing.assert_close(got[k], t, msg=k)
    for s in SPLITS:
        assert half[f"{s}_x"].dtype == torch.float16
        torch.testing.assert_close(half[f"{s}_x"].float(), ref[f"{s}_x"], atol=0.02, rtol=2e-3)
    saved = tmp_path / "graph.pt"
    save_graph(half, saved)  # the split x tensors are views of one block: it round-trips
    torch.testing.assert_close(load_graph(saved)["test_x"], half["test_x"])

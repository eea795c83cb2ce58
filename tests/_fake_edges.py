"""A fake edge table with the columns of features/edges.parquet and a planted latent signal.

Used by unit tests of the models (before and besides the real features stage). Head probabilities come
from observable features (video duration, user activity, hour) plus a low-rank user x video affinity that
only a collaborative model can learn, so a GNN beats the MLP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vmrec.contracts import HEADS, PROB_COLUMNS


def make_fake_edges(
    n_users: int = 300,
    n_videos: int = 400,
    n_big: int = 60_000,
    n_small: int = 15_000,
    rank: int = 4,
    seed: int = 0,
    train_frac: float = 0.7,
    val_frac: float = 0.15,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (edges, truth): edges has the edge-table columns; truth has edge_id and PROB_COLUMNS."""
    rng = np.random.default_rng(seed)
    log_dur = rng.normal(2.3, 0.6, n_videos)  # log seconds
    activity = rng.normal(0, 1, n_users)
    pop = rng.normal(0, 1, n_videos)
    zu = rng.normal(0, 1, (n_users, rank)) / np.sqrt(rank)
    zv = rng.normal(0, 1, (n_videos, rank)) / np.sqrt(rank)

    # big: users view videos in proportion to popularity; small: pairs drawn uniformly, outside big
    u_big = rng.integers(0, n_users, n_big)
    p_pop = np.exp(0.8 * pop)
    v_big = rng.choice(n_videos, n_big, p=p_pop / p_pop.sum())
    big_pairs = set((u_big.astype(np.int64) * n_videos + v_big).tolist())
    cand = rng.integers(0, n_users * n_videos, 3 * n_small)
    cand = pd.unique(np.array([c for c in cand.tolist() if c not in big_pairs], dtype=np.int64))[:n_small]
    u_small, v_small = (cand // n_videos).astype(np.int64), (cand % n_videos).astype(np.int64)

    u = np.r_[u_big, u_small]
    v = np.r_[v_big, v_small]
    n = len(u)
    ts_big = np.sort(rng.uniform(1.5937e9, 1.5937e9 + 60 * 86400, n_big))
    ts = np.r_[ts_big, rng.uniform(1.5937e9, 1.5937e9 + 60 * 86400, len(u_small))]
    hour = ((ts / 3600 + 8) % 24).astype(np.float32)

    aff = (zu[u] * zv[v]).sum(1)
    base = {
        "y_complete": -1.2 * (log_dur[v] - 2.3) + 0.3 * activity[u] + 1.5 * aff,
        "y_long": 0.8 * (log_dur[v] - 2.3) - 0.6 + 0.4 * activity[u] + 1.5 * aff,
        "y_rewatch": -1.5 * (log_dur[v] - 2.3) - 1.8 + 2.5 * aff + 0.2 * np.sin(hour / 24 * 2 * np.pi),
        "y_neg": 0.9 * (log_dur[v] - 2.3) - 1.5 - 0.3 * activity[u] - 2.5 * aff,
    }
    probs = {h: 1 / (1 + np.exp(-base[h])) for h in HEADS}

    split = np.empty(n, dtype=object)
    n_tr, n_va = int(train_frac * n_big), int(val_frac * n_big)
    split[:n_tr] = "train"
    split[n_tr : n_tr + n_va] = "val"
    split[n_tr + n_va : n_big] = "test"
    split[n_big:] = "small"

    edges = pd.DataFrame(
        {
            "edge_id": np.arange(n, dtype=np.int64),
            "user_id": u.astype(np.int32),
            "video_id": v.astype(np.int32),
            "source": np.where(np.arange(n) < n_big, "big", "small"),
            "csv_row": np.r_[np.arange(n_big), np.arange(len(u_small))].astype(np.int64),
            "timestamp": ts,
            "split": split,
        }
    )
    for h in HEADS:
        edges[h] = (rng.random(n) < probs[h]).astype(np.int8)
    edges["f_ctx_hour"] = hour
    edges["f_ctx_noise"] = rng.normal(0, 1, n).astype(np.float32)
    edges["f_user_activity"] = activity[u].astype(np.float32)
    edges["f_item_log_duration"] = log_dur[v].astype(np.float32)
    edges["f_item_pop"] = (pop[v] + rng.normal(0, 0.1, n)).astype(np.float32)
    edges["source"] = edges["source"].astype("string")
    edges["split"] = edges["split"].astype("string")
    truth = pd.DataFrame({"edge_id": edges["edge_id"], **{c: probs[h] for c, h in zip(PROB_COLUMNS, HEADS,
                                                                                        strict=True)}})
    return edges, truth

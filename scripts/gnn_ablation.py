"""GNN ablations behind docs/models.md: train one model variant with the pipeline's training code on a
finished run's edge table, print val / test / small AUC per head, save its predictions.

    PYTHONPATH=src python scripts/gnn_ablation.py lightgcn_h64 --lr 0.01 --bs 8192 --l2 0.003 --layers 2 \
        --edges results/synthetic-small-platform/features/edges.parquet --out results/exp
    PYTHONPATH=src python scripts/gnn_ablation.py --paired mf_h64_full lightgcn_h64_... --edges ... --out ...

Variants: --layers (K; 0 = no propagation, i.e. matrix factorisation through the LightGCN code path),
--l2 (on the id embeddings), --norm left (D^-1 A, the mean of the neighbours, instead of D^-1/2 A D^-1/2),
--newest (supervise on the newest target_frac of train only, the former default). --paired compares saved
predictions (first tag = baseline) with vmrec.evaluate.paired_frame. Not a rule: a measurement tool.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch_geometric.nn import LGConv

from vmrec.contracts import HEADS, PROB_COLUMNS
from vmrec.evaluate import LABELS_FRAME_COLUMNS, join_predictions, labels_frame, paired_frame
from vmrec.graph import _csr, build_graph_from_parquet, load_graph, save_graph
from vmrec.models import model_spec
from vmrec.train import TrainSettings, head_aucs, predictions_frame, train_model


def left_norm_adjacency(user: torch.Tensor, video: torch.Tensor, n_users: int, n_videos: int) -> torch.Tensor:
    """D^-1 A over users + videos: each node takes the mean of its neighbours (not symmetric)."""
    n = n_users + n_videos
    rows, cols = torch.cat([user, video + n_users]), torch.cat([video + n_users, user])
    deg = torch.bincount(rows, minlength=n).clamp(min=1).to(torch.float32)
    return _csr(rows, cols, 1.0 / deg[rows], n, n)


def train_one(a: argparse.Namespace) -> dict:
    gp = Path(a.out) / f"graph_{a.target_frac}.pt"
    if not gp.exists():
        save_graph(build_graph_from_parquet(a.edges, a.target_frac), gp)
    g = load_graph(gp)
    if a.newest:
        keep = g["train_target_mask"]
        for k in ("edge_id", "user", "video", "x", "y"):
            g[f"train_{k}"] = g[f"train_{k}"][keep]
        g["train_target_mask"] = torch.ones(int(keep.sum()), dtype=torch.bool)
    if a.norm == "left":
        import vmrec.models as vm

        vm.sym_norm_adjacency = left_norm_adjacency
        # D^-1 A is not symmetric: SymmetricLGConv's backward (A g) would be wrong; LGConv's autograd is not
        vm.SymmetricLGConv = lambda: LGConv(normalize=False)
    spec = model_spec(a.model, {"mlp_hidden": [64, 32], "gnn_layers": a.layers, "lightgcn_layers": a.layers})
    s = TrainSettings(lr=a.lr, batch_size=a.bs, epochs=a.epochs, patience=a.patience,
                      head_weights=dict.fromkeys(HEADS, 1.0), seed=0, emb_l2=a.l2)
    t = time.perf_counter()
    res = train_model(spec, g, s, torch.device("cpu"), progress=False)
    wall = time.perf_counter() - t
    pred = predictions_frame(res.net, g, res.emb)
    tag = a.tag or f"{a.model}_lr{a.lr}_bs{a.bs}_l2{a.l2}_k{a.layers}"
    pred.to_parquet(Path(a.out) / f"{tag}.parquet")
    row = {"tag": tag, "best_epoch": res.best_epoch, "wall_s": round(wall, 1),
           "epoch_s": round(float(res.curve["seconds"].mean()), 1)}
    for sp in ("val", "test", "small"):
        p = pred[pred.split == sp].sort_values("edge_id")[list(PROB_COLUMNS)].to_numpy()
        y = g[f"{sp}_y"].numpy()[np.argsort(g[f"{sp}_edge_id"].numpy())]
        au = head_aucs(y, p)
        row[sp] = {h: round(au[h], 4) for h in [*HEADS, "mean"]}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--paired", nargs="+", help="saved tags: baseline first")
    ap.add_argument("--edges", default="results/synthetic-small-platform/features/edges.parquet")
    ap.add_argument("--out", default="results/exp")
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--bs", type=int, default=2048)
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--target_frac", type=float, default=0.8)
    ap.add_argument("--norm", default="sym", choices=["sym", "left"])
    ap.add_argument("--newest", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    if a.paired:
        labels = labels_frame(pd.read_parquet(a.edges, columns=LABELS_FRAME_COLUMNS))
        frames = {t: join_predictions(labels, pd.read_parquet(Path(a.out) / f"{t}.parquet"), t)
                  for t in a.paired}
        out = paired_frame(frames, a.paired[0], ["val", "test", "small"], 200, 0)
        print(out.drop(columns=["baseline"]).round(4).to_string(index=False))
        return
    row = train_one(a)
    print(json.dumps(row))
    with open(Path(a.out) / "log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

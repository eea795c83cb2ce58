"""Benchmark section `train`: time per training epoch of edge_mlp, mf_h64, lightgcn_h64 and gnn_h64 at full
synthetic scale.

Uses results/synthetic-<scale>/graph/graph.pt when the pipeline has built it; otherwise a random graph
of the same size (KuaiRec: 7,176 users x 10,728 videos, 12.5M big views of which train = 70%, split by
models.target_frac into GraphSAGE message and target edges, every train edge a target of the other
models; 64 edge features), so the section runs without the upstream stages. Each measurement is one
epoch in a fresh process (2 torch threads on CPU), reported as seconds, supervised edges/s and peak RSS;
the same runs on the GPU when one is present.
Batches 4,096 and 65,536 for every model (graph models skip 4,096 on CPU at full scale), and lightgcn_h64
also at its own sweep batch at that scale (`sweep.lightgcn_batch_size`, 262,144 at full size) when larger.
Targets (2 CPU cores, full scale): a gnn_h64 epoch under 3 minutes; a lightgcn_h64 epoch under 60 s and
9 GB peak (issue #19).
"""

from __future__ import annotations

from pathlib import Path

from vmrec.bench import BenchContext, BenchResult, measure, summarize

TITLE = "train: time per training epoch (edge_mlp, mf_h64, lightgcn_h64, gnn_h64)"
TARGET_SECONDS = {"gnn_h64": 180.0, "lightgcn_h64": 60.0}  # per full-scale epoch on 2 CPU cores
TARGET_PEAK_MB = {"lightgcn_h64": 9000.0}
SIZES = {  # users, videos, big views (train = 70%)
    "tiny": (300, 400, 40_000),
    "small": (1_500, 2_500, 1_000_000),
    "full": (7_176, 10_728, 12_530_806),
}
N_FEATURES = 64


def random_graph(n_users: int, n_videos: int, n_big: int, target_frac: float = 0.5,
                 n_features: int = N_FEATURES, seed: int = 0) -> dict:
    """A graph dict (vmrec.graph layout) of the given size with random features and labels."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    n_train = int(0.7 * n_big)
    n_tgt = int(target_frac * n_train)  # GraphSAGE targets; the other models train on all n_train
    n_val = min(200_000, int(0.15 * n_big))

    def edges(n: int) -> tuple:
        return (torch.randint(0, n_users, (n,), generator=gen),
                torch.randint(0, n_videos, (n,), generator=gen),
                (torch.rand(n, 4, generator=gen) < 0.3).float())

    g: dict = {"feature_names": [f"f_ctx_{j}" for j in range(n_features)],
               "x_mean": torch.zeros(n_features), "x_std": torch.ones(n_features),
               "user_ids": torch.arange(n_users), "video_ids": torch.arange(n_videos)}
    for view, n in (("train", n_train - n_tgt), ("eval", n_train)):
        u, v, y = edges(n)
        g |= {f"{view}_msg_user": u, f"{view}_msg_video": v, f"{view}_msg_y": y,
              f"{view}_user_x": torch.randn(n_users, 24, generator=gen),
              f"{view}_video_x": torch.randn(n_videos, 40, generator=gen)}
    for split, n in (("train", n_train), ("val", n_val), ("test", 1), ("small", 1)):
        u, v, y = edges(n)
        g |= {f"{split}_edge_id": torch.arange(n), f"{split}_user": u, f"{split}_video": v,
              f"{split}_x": torch.randn(n, n_features, generator=gen), f"{split}_y": y}
    g["train_target_mask"] = torch.arange(n_train) >= n_train - n_tgt
    return g


def one_epoch(model: str, scale: str, graph_path: str, batch_size: int, device: str,
              threads: int = 2) -> dict:
    """Train `model` for one epoch; return training seconds, edges/s and sizes."""
    import torch

    from vmrec.config import validate_config
    from vmrec.device import resolve_device
    from vmrec.graph import load_graph
    from vmrec.models import model_spec
    from vmrec.train import TrainSettings, train_model

    torch.set_num_threads(threads)
    cfg = validate_config({"scale": scale})
    if graph_path and Path(graph_path).is_file():
        g, source = load_graph(graph_path), "pipeline graph"
    else:
        g, source = random_graph(*SIZES[scale], target_frac=cfg["models"]["target_frac"]), "random graph"
    s = TrainSettings(lr=0.003, batch_size=batch_size, epochs=1, patience=1,
                      head_weights=cfg["models"]["head_weights"], seed=0, emb_l2=cfg["models"]["emb_l2"])
    res = train_model(model_spec(model, cfg["models"]), g, s, resolve_device(device), progress=False)
    row = res.curve.iloc[0]
    return {"epoch_s": float(row["seconds"]), "edges_per_s": float(row["edges_per_s"]), "source": source,
            "targets": len(g["train_x"]), "message_edges": len(g["train_msg_user"]),
            "features": len(g["feature_names"])}


def _meets(model: str, epoch_s: float, peak_mb: float) -> bool:
    inf = float("inf")
    return epoch_s < TARGET_SECONDS.get(model, inf) and peak_mb < TARGET_PEAK_MB.get(model, inf)


def batch_sizes(model: str, scale: str, device: str) -> list[int]:
    """The batches an epoch of `model` is measured at (see the module docstring)."""
    from vmrec.config import validate_config
    from vmrec.registry import sweep_batch_sizes

    out = [65536] if device == "cpu" and model in TARGET_SECONDS and scale == "full" else [4096, 65536]
    # (~1,000 full-graph steps per epoch at 4,096: a quarter hour on 2 cores, not a benchmark)
    if model.startswith("lightgcn"):
        own = max(sweep_batch_sizes(model, validate_config({"scale": scale})["sweep"]))
        out += [own] if own > max(out) else []
    return out


def run(ctx: BenchContext) -> BenchResult:
    import torch

    from vmrec.config import dataset_name, validate_config

    # the graph of a default run at this scale, if one exists (its world's folder)
    run = dataset_name(validate_config({"scale": ctx.scale}))
    graph_path = ctx.root / "results" / run / "graph" / "graph.pt"
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows, raw = [], {}
    for device in devices:
        for model in ("edge_mlp", "mf_h64", "lightgcn_h64", "gnn_h64"):
            for bs in batch_sizes(model, ctx.scale, device):
                kw = {"model": model, "scale": ctx.scale, "graph_path": str(graph_path), "batch_size": bs,
                      "device": device}
                samples = [measure("vmrec.bench.train:one_epoch", kw) for _ in range(ctx.repeats)]
                st = summarize(samples)
                res = samples[0].result
                raw[f"{device}/{model}/{bs}"] = {"stats": st, "results": [m.result for m in samples]}
                epoch = sorted(m.result["epoch_s"] for m in samples)[len(samples) // 2]
                rows.append({"device": device, "model": model, "batch_size": bs, "source": res["source"],
                             "targets": res["targets"], "message_edges": res["message_edges"],
                             "epoch_s": round(epoch, 1),
                             "edges_per_s": round(res["targets"] / epoch),
                             "peak_rss_mb": round(st["peak_rss_mb"]),
                             "meets_target": _meets(model, epoch, st["peak_rss_mb"])})
    notes = [*(f"target: {m} epoch < {t:.0f} s, 2 CPU cores, full scale" for m, t in TARGET_SECONDS.items()),
             *(f"target: {m} peak RSS < {t:.0f} MB" for m, t in TARGET_PEAK_MB.items()),
             "epoch_s: training steps only (one full-graph propagation per step), no validation pass",
             "graph models at batch 4096 are skipped on CPU at full scale (~2,000 full-graph steps an epoch)",
             "lightgcn_h64 also runs at its own full-size sweep batch (sweep.lightgcn_batch_size)"]
    return BenchResult(rows, notes, raw)

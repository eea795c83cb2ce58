"""Training loop shared by sweeps and full training: minibatches over supervised edges, full-graph
propagation per step, per-head weighted BCE, early stopping on the validation mean AUC."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm import tqdm

from vmrec.contracts import HEADS, PREDICTION_COLUMNS, PROB_COLUMNS
from vmrec.metrics import auc
from vmrec.models import EngagementNet, GraphView, ModelSpec
from vmrec.registry import BY_NAME

log = logging.getLogger("vmrec")


@dataclass
class TrainSettings:
    """Optimisation settings of one training run."""

    lr: float
    batch_size: int
    epochs: int
    patience: int
    head_weights: dict[str, float]
    eval_batch_size: int = 65536
    seed: int = 0
    subset_frac: float = 1.0  # fraction of the supervised train edges used (sweeps)
    emb_l2: float = 0.0  # L2 penalty on the user and video embeddings of each batch's edges (mf, gnn)


@dataclass
class TrainResult:
    net: EngagementNet
    curve: pd.DataFrame  # epoch, train_loss, val_loss, val_auc_<head>..., val_auc_mean, seconds, edges_per_s
    best_epoch: int
    val_auc: dict[str, float]  # per head at the best epoch, plus "mean"
    emb: tuple[torch.Tensor, torch.Tensor] | None  # eval-view node embeddings of the best model


def seed_everything(seed: int) -> None:
    """Seed torch and numpy, and pick deterministic kernels: with more than one thread the default
    CPU kernels (e.g. the accumulating backward of the embedding gathers) differ from run to run in
    the last float bits. Results are then bit-identical for the same seed and thread count."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=True)


def supervised_rows(spec: ModelSpec, g: dict) -> torch.Tensor:
    """Indices of the train targets a model is supervised on: every train edge, except for the GraphSAGE
    family (gnn), whose labelled messages and node label means come from the older train edges: it
    trains on the newest models.target_frac only (graph `train_target_mask`), never on a message edge."""
    if BY_NAME[spec.kind].target_share:
        return torch.nonzero(g["train_target_mask"]).flatten()
    return torch.arange(len(g["train_x"]))


def build_net(spec: ModelSpec, g: dict) -> EngagementNet:
    return EngagementNet(spec, len(g["feature_names"]), len(g["user_ids"]), len(g["video_ids"]),
                         g["eval_user_x"].shape[1], g["eval_video_x"].shape[1])


def predict_logits(net: EngagementNet, g: dict, split: str, view: GraphView | None, device: torch.device,
                   batch_size: int, emb: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Logits (n, 4) on CPU of one split's target edges, propagating over `view` (eval view)."""
    net.eval()
    out = []
    with torch.no_grad():
        if emb is None and net.encoder is not None:
            emb = net.embed(view)
        x, u, v = g[f"{split}_x"], g[f"{split}_user"], g[f"{split}_video"]
        for i in range(0, len(x), batch_size):
            sl = slice(i, i + batch_size)
            out.append(net(x[sl].to(device).float(), u[sl].to(device), v[sl].to(device), emb).cpu())
    return torch.cat(out) if out else torch.zeros(0, len(HEADS))


def head_aucs(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC per head and their mean."""
    res = {h: auc(y[:, k], p[:, k]) for k, h in enumerate(HEADS)}
    res["mean"] = float(np.nanmean(list(res.values())))
    return res


def train_model(spec: ModelSpec, g: dict, s: TrainSettings, device: torch.device,
                progress: bool = True, row_weight: torch.Tensor | None = None) -> TrainResult:
    """Train one model on the graph dict `g`; return the best (validation mean AUC) weights and curve.

    row_weight: optional (n train edges,) weight of each train edge's loss (exposure-aware training,
    `vmrec.exposure`), aligned with g["train_*"]; None weighs every edge 1."""
    seed_everything(s.seed)
    net = build_net(spec, g).to(device)
    train_view, eval_view = net.graph_views(g, device)
    gen = torch.Generator().manual_seed(s.seed)
    rows = supervised_rows(spec, g)
    if s.subset_frac < 1:
        n_all = len(rows)
        keep = torch.randperm(n_all, generator=gen)[: max(1, int(round(s.subset_frac * n_all)))]
        rows = rows[keep.sort().values]
    x, u, v, y = (g[f"train_{k}"][rows].to(device) for k in ("x", "user", "video", "y"))
    rw = None if row_weight is None else row_weight[rows].to(device=device, dtype=torch.float32)
    w = torch.tensor([s.head_weights[h] for h in HEADS], dtype=torch.float32, device=device)
    y_val = g["val_y"].numpy()
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    n = len(x)
    log.info("%s: device %s, %d supervised train edges (subset_frac %.3g), lr %g, batch %d, %d parameters",
             spec.name, device, n, s.subset_frac, s.lr, s.batch_size,
             sum(p.numel() for p in net.parameters()))

    best, best_state, best_epoch, bad, rows_out = -np.inf, None, 0, 0, []
    for epoch in range(1, s.epochs + 1):
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen).to(device)
        total, steps = 0.0, range(0, n, s.batch_size)
        bar = tqdm(steps, desc=f"{spec.name} epoch {epoch}", unit="step", disable=not progress, leave=False)
        for i in bar:
            b = perm[i: i + s.batch_size]
            emb = net.embed(train_view)  # full-graph propagation every step: fresh gradients
            logits = net(x[b].float(), u[b], v[b], emb)  # x may be stored as float16 (full size)
            bce = F.binary_cross_entropy_with_logits(logits, y[b], reduction="none")
            if rw is not None:
                bce = bce * rw[b, None]
            loss = (bce.mean(0) * w).sum()
            if emb is not None and s.emb_l2 > 0:
                loss = loss + s.emb_l2 * net.embedding_penalty(u[b], v[b], emb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_secs = time.perf_counter() - t0
        val_logits = predict_logits(net, g, "val", eval_view, device, s.eval_batch_size)
        val_loss = float((F.binary_cross_entropy_with_logits(val_logits, g["val_y"], reduction="none")
                          .mean(0) * w.cpu()).sum())
        aucs = head_aucs(y_val, torch.sigmoid(val_logits).numpy())
        rows_out.append({"epoch": epoch, "train_loss": total / n, "val_loss": val_loss,
                         **{f"val_auc_{h}": aucs[h] for h in HEADS}, "val_auc_mean": aucs["mean"],
                         "seconds": train_secs, "edges_per_s": n / train_secs})
        log.info("%s epoch %d: train loss %.4f, val loss %.4f, val AUC mean %.4f (%s); %.1f s, %.0f edges/s",
                 spec.name, epoch, total / n, val_loss, aucs["mean"],
                 " ".join(f"{h}={aucs[h]:.3f}" for h in HEADS), train_secs, n / train_secs)
        if aucs["mean"] > best:
            best, best_epoch, bad = aucs["mean"], epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            bad += 1
            if bad >= s.patience:
                log.info("%s: early stop after epoch %d (best epoch %d)", spec.name, epoch, best_epoch)
                break
    net.load_state_dict(best_state)
    net.eval()
    emb = None
    if net.encoder is not None:
        with torch.no_grad():
            emb = tuple(e.cpu() for e in net.embed(eval_view))
    curve = pd.DataFrame(rows_out)
    best_row = curve.loc[curve["epoch"] == best_epoch].iloc[0]
    val_auc = {h: float(best_row[f"val_auc_{h}"]) for h in HEADS} | {"mean": float(best)}
    return TrainResult(net.cpu(), curve, best_epoch, val_auc, emb)


def predictions_frame(net: EngagementNet, g: dict, emb: tuple[torch.Tensor, torch.Tensor] | None,
                      splits: tuple[str, ...] = ("val", "test", "small"),
                      batch_size: int = 65536) -> pd.DataFrame:
    """predictions.parquet rows (contracts.PREDICTION_COLUMNS) for the target edges of `splits`."""
    parts = []
    for s in splits:
        p = torch.sigmoid(predict_logits(net, g, s, None, torch.device("cpu"), batch_size, emb)).numpy()
        df = pd.DataFrame({"edge_id": g[f"{s}_edge_id"].numpy(), "split": s})
        for k, c in enumerate(PROB_COLUMNS):
            df[c] = p[:, k].astype(np.float32)
        parts.append(df)
    out = pd.concat(parts, ignore_index=True)
    out["split"] = out["split"].astype("string")
    return out[list(PREDICTION_COLUMNS)]

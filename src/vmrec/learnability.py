"""How much of the oracle AUC can a model learn from the logged views? (synthetic data only)

    python -m vmrec.learnability results/synthetic-small-platform data/raw/synthetic-small-platform/truth

On the big-matrix test split, per head, the AUC of:
  oracle             the true probabilities (truth/)
  static_only        the true probabilities with the latent user x video affinity removed: everything the
                     edge features can in principle explain, nothing a collaborative model adds
  known_video_factors  a privileged learner: it knows the true static probabilities and the true latent
                     video factors and fits only each user's factors (per head, L2-penalised, the penalty
                     chosen on val) to the user's train views: a reference for what the logged views teach
                     about users (not a strict bound: a model sharing user factors across heads can beat it)
and the best trained model's AUC from report/metrics.csv when it exists. See docs/models.md.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import logit
from torch.nn import functional as F

from vmrec.contracts import HEADS
from vmrec.metrics import auc
from vmrec.synthetic import head_probs, local_hour, make_world
from vmrec.synthetic.truth import read_truth

L2_GRID = (1.0, 3.0, 10.0, 30.0)


def _fit_user_factors(static_logit: torch.Tensor, vf: torch.Tensor, user: torch.Tensor, y: torch.Tensor,
                      n_users: int, l2: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per head k: logit = a_k + b_k * static_logit_k + <P[user, k], vf>, fitted by L-BFGS."""
    a = torch.zeros(len(HEADS), requires_grad=True)
    b = torch.ones(len(HEADS), requires_grad=True)
    P = torch.zeros(n_users, len(HEADS), vf.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([a, b, P], max_iter=300, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logit = a + b * static_logit + torch.einsum("nkd,nd->nk", P[user], vf)
        loss = F.binary_cross_entropy_with_logits(logit, y, reduction="sum") + l2 * P.pow(2).sum()
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
    return a.detach(), b.detach(), P.detach()


def learnability(edges: pd.DataFrame, scale: str, seed: int, l2_grid=L2_GRID, world: str = "simple"
                 ) -> pd.DataFrame:
    """AUC per head (rows) of oracle, static_only and known_video_factors on the test split. The oracle
    is the true probability at the view's hour (on the platform world: without its position and fatigue
    context, as for a session's first view)."""
    world = make_world(scale, seed, world)
    e = edges[edges["split"].isin(["train", "val", "test"])].reset_index(drop=True)
    u, v = e["user_id"].to_numpy(np.int64), e["video_id"].to_numpy(np.int64)
    hour, d = local_hour(e["timestamp"].to_numpy() * 1000.0), world.dur[v]
    oracle = head_probs(world, u, v, hour, d)
    no_affinity = copy.copy(world)
    no_affinity.u_lat = np.zeros_like(world.u_lat)
    static = logit(np.clip(head_probs(no_affinity, u, v, hour, d), 1e-6, 1 - 1e-6))
    y = np.array(e[list(HEADS)].to_numpy(np.float32))  # writable: torch.from_numpy shares it
    split = e["split"].to_numpy()
    vf = torch.from_numpy(world.v_lat.reshape(world.n_videos, -1)[v].astype(np.float32))
    st, yt, ut = torch.from_numpy(static.astype(np.float32)), torch.from_numpy(y), torch.from_numpy(u)
    masks = {s: torch.from_numpy(split == s) for s in ("train", "val", "test")}
    tr = masks["train"]
    best = None
    for l2 in l2_grid:
        a, b, P = _fit_user_factors(st[tr], vf[tr], ut[tr], yt[tr], world.n_users, l2)
        scores = {s: (a + b * st[m] + torch.einsum("nkd,nd->nk", P[ut[m]], vf[m])).numpy()
                  for s, m in masks.items() if s != "train"}
        val = np.mean([auc(y[split == "val", k], scores["val"][:, k]) for k in range(len(HEADS))])
        if best is None or val > best[0]:
            best = (val, l2, scores["test"])
    te = split == "test"
    rows = []
    for k, h in enumerate(HEADS):
        rows.append({"head": h, "oracle": auc(y[te, k], oracle[te, k]),
                     "static_only": auc(y[te, k], static[te, k]),
                     "known_video_factors": auc(y[te, k], best[2][:, k]), "l2": best[1]})
    return pd.DataFrame(rows).set_index("head")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, help="results/<dataset> of a synthetic run")
    ap.add_argument("truth", type=Path, help="the truth/ folder of the same synthetic data (truth.json)")
    args = ap.parse_args(argv)
    truth = read_truth(args.truth)
    edges = pd.read_parquet(args.results / "features" / "edges.parquet",
                            columns=["user_id", "video_id", "timestamp", "split", *HEADS])
    table = learnability(edges, truth["scale"], int(truth["seed"]), world=truth["world"])
    metrics = args.results / "report" / "metrics.csv"
    if metrics.exists():
        m = pd.read_csv(metrics).query("split == 'test' and metric == 'auc' and model != 'oracle'")
        m = m[m["model"] != "duration_baseline"].pivot(index="head", columns="model", values="value")
        table["best_model"] = m.max(axis=1)
        table["best_model_name"] = m.idxmax(axis=1)
    for c in ("static_only", "known_video_factors", "best_model"):
        if c in table:
            table[f"{c} %"] = (100 * table[c] / table["oracle"]).round(1)
    print(f"test AUC per head; % = share of the oracle AUC (known_video_factors: L2 {table['l2'].iloc[0]:g})")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print(table.drop(columns="l2"))


if __name__ == "__main__":
    main()

"""The engagement models behind one interface (contracts.EngagementModel).

All models predict four logits (HEADS order) from one shared edge-feature head; they differ only in
what the head sees:
  logreg     linear head on the standardised edge features
  edge_mlp   MLP head (models.mlp_hidden) on the standardised edge features
  mf_h{d}    matrix factorisation: the MLP head on the edge features plus a per-head bilinear score
             <W_k e_u, e_v> of learnable user and video id embeddings (size d, L2-penalised, models.emb_l2);
             no message passing. The standard collaborative baseline a GNN has to beat.
  gnn_h{d}   the same MLP head on [edge features, user emb, video emb, user emb * video emb], the
             embeddings (size d) from a bipartite GraphSAGE-style encoder: learnable id embeddings plus
             projected node features, then `gnn_layers` mean-aggregation layers over the message edges
             (the first layer also aggregates neighbours weighted by their centred labels). The product
             term lets a small MLP read the user x video affinity (an MLP learns dot products poorly).
Full-graph propagation uses torch.sparse CSR adjacencies with a custom backward (no transposes per step).

`load_model(path)` returns a `FittedModel`: `predict_proba(X, user_id, video_id) -> (n, 4)` scores any
(user, video, context) rows; X holds the raw f_* columns in `feature_names` order.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vmrec.config import model_names  # noqa: F401  (re-exported: the model list lives with the config)
from vmrec.contracts import HEADS
from vmrec.graph import normalized_adjacency
from vmrec.io import atomic_path

log = logging.getLogger("vmrec")
CHECKPOINT_FORMAT = "vmrec-model-v1"
_EMB_NAME = re.compile(r"(gnn|mf)_h(\d+)")


@dataclass
class ModelSpec:
    """Architecture of one named model (everything but the data sizes)."""

    name: str
    kind: str  # logreg | edge_mlp | mf | gnn
    mlp_hidden: list[int] = field(default_factory=list)
    hidden_dim: int = 0
    gnn_layers: int = 0


def model_spec(name: str, models_cfg: dict) -> ModelSpec:
    """The spec of model `name` (logreg, edge_mlp, mf_h{dim}, gnn_h{dim}) from the config's `models`."""
    if name == "logreg":
        return ModelSpec(name, "logreg")
    if name == "edge_mlp":
        return ModelSpec(name, "edge_mlp", list(models_cfg["mlp_hidden"]))
    m = _EMB_NAME.fullmatch(name)
    if m and m.group(1) == "mf":
        return ModelSpec(name, "mf", list(models_cfg["mlp_hidden"]), int(m.group(2)))
    if m:
        return ModelSpec(name, "gnn", list(models_cfg["mlp_hidden"]), int(m.group(2)),
                         int(models_cfg["gnn_layers"]))
    raise ValueError(f"unknown model name {name!r}; expected logreg, edge_mlp, mf_h<dim> or gnn_h<dim>")


class _SpMM(torch.autograd.Function):
    """A @ H with a precomputed A^T for the backward pass (gradient w.r.t. H only)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, at: torch.Tensor, h: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        ctx.at = at
        return a @ h

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ANN001, ANN205
        return None, None, ctx.at @ grad


class GraphView:
    """One message-passing view (train or eval) on a device: adjacencies and node features."""

    def __init__(self, g: dict, view: str, device: torch.device | str = "cpu") -> None:
        u, v, y = g[f"{view}_msg_user"], g[f"{view}_msg_video"], g[f"{view}_msg_y"]
        self.n_users, self.n_videos = len(g["user_ids"]), len(g["video_ids"])
        no_y = y[:, :0]
        # video -> user (rows: users) and user -> video (rows: videos), all channels and mean only
        self.uv = [t.to(device) for t in normalized_adjacency(u, v, y, self.n_users, self.n_videos)]
        self.vu = [t.to(device) for t in normalized_adjacency(v, u, y, self.n_videos, self.n_users)]
        self.uv0 = [t.to(device) for t in normalized_adjacency(u, v, no_y, self.n_users, self.n_videos)]
        self.vu0 = [t.to(device) for t in normalized_adjacency(v, u, no_y, self.n_videos, self.n_users)]
        self.channels = 1 + y.shape[1]
        self.user_x = g[f"{view}_user_x"].to(device)
        self.video_x = g[f"{view}_video_x"].to(device)


def _aggregate(adj: list[torch.Tensor], h: torch.Tensor, n_dst: int, channels: int) -> torch.Tensor:
    """Channel-stacked aggregation -> (n_dst, channels * dim)."""
    out = _SpMM.apply(adj[0], adj[1], h)  # (channels * n_dst, dim)
    return out.view(channels, n_dst, -1).permute(1, 0, 2).reshape(n_dst, -1)


class SageLayer(nn.Module):
    """h_dst' = act(W_self h_dst + W_nb [mean and label-weighted means of h_src]), per node type."""

    def __init__(self, dim: int, channels: int, act: bool) -> None:
        super().__init__()
        self.channels, self.act = channels, act
        self.self_u, self.self_v = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.nb_u = nn.Linear(channels * dim, dim, bias=False)
        self.nb_v = nn.Linear(channels * dim, dim, bias=False)

    def forward(self, hu: torch.Tensor, hv: torch.Tensor,
                view: GraphView) -> tuple[torch.Tensor, torch.Tensor]:
        uv, vu = (view.uv, view.vu) if self.channels > 1 else (view.uv0, view.vu0)
        nu = self.self_u(hu) + self.nb_u(_aggregate(uv, hv, view.n_users, self.channels))
        nv = self.self_v(hv) + self.nb_v(_aggregate(vu, hu, view.n_videos, self.channels))
        return (torch.relu(nu), torch.relu(nv)) if self.act else (nu, nv)


class IdEmbeddings(nn.Module):
    """Learnable user and video id embeddings: the encoder of mf models, the base of the GNN's."""

    def __init__(self, n_users: int, n_videos: int, dim: int) -> None:
        super().__init__()
        self.emb_u, self.emb_v = nn.Embedding(n_users, dim), nn.Embedding(n_videos, dim)
        nn.init.normal_(self.emb_u.weight, std=0.1)
        nn.init.normal_(self.emb_v.weight, std=0.1)

    def forward(self, view: GraphView | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.emb_u.weight, self.emb_v.weight


class GNNEncoder(nn.Module):
    """Bipartite GraphSAGE: id embedding + projected node features, then `layers` SageLayers."""

    def __init__(self, n_users: int, n_videos: int, user_x_dim: int, video_x_dim: int, dim: int,
                 layers: int, channels: int) -> None:
        super().__init__()
        self.ids = IdEmbeddings(n_users, n_videos, dim)
        self.lin_u, self.lin_v = nn.Linear(user_x_dim, dim), nn.Linear(video_x_dim, dim)
        self.layers = nn.ModuleList(
            SageLayer(dim, channels if i == 0 else 1, act=i < layers - 1) for i in range(layers)
        )

    def forward(self, view: GraphView) -> tuple[torch.Tensor, torch.Tensor]:
        eu, ev = self.ids()
        hu = eu + self.lin_u(view.user_x)  # (U, dim)
        hv = ev + self.lin_v(view.video_x)  # (V, dim)
        hu0, hv0 = hu, hv
        for layer in self.layers:
            hu, hv = layer(hu, hv, view)
        return hu + hu0, hv + hv0  # skip: the id embeddings reach the head directly (MF path)


def _mlp(n_in: int, hidden: list[int], n_out: int) -> nn.Module:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class EngagementNet(nn.Module):
    """Shared edge-feature head (+ id embeddings for mf, GNN encoder for gnn models) -> four logits."""

    def __init__(self, spec: ModelSpec, n_features: int, n_users: int = 0, n_videos: int = 0,
                 user_x_dim: int = 0, video_x_dim: int = 0, channels: int = 1 + len(HEADS)) -> None:
        super().__init__()
        self.spec = spec
        self.encoder: GNNEncoder | IdEmbeddings | None = None
        n_in = n_features
        if spec.kind == "mf":
            self.encoder = IdEmbeddings(n_users, n_videos, spec.hidden_dim)
            self.bilinear = nn.Linear(spec.hidden_dim, len(HEADS), bias=False)
        if spec.kind == "gnn":
            self.encoder = GNNEncoder(n_users, n_videos, user_x_dim, video_x_dim, spec.hidden_dim,
                                      spec.gnn_layers, channels)
            n_in += 3 * spec.hidden_dim
            # per-head bilinear score <W_k eu, ev>: the matrix-factorisation term, added to the head's logits
            self.bilinear = nn.Linear(spec.hidden_dim, len(HEADS), bias=False)
        self.head = nn.Linear(n_in, len(HEADS)) if spec.kind == "logreg" else _mlp(n_in, spec.mlp_hidden,
                                                                                   len(HEADS))

    @property
    def needs_graph(self) -> bool:
        """Whether the model propagates over message edges (needs GraphViews)."""
        return self.spec.kind == "gnn"

    def embed(self, view: GraphView | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Node embeddings of a view (None for models without a graph)."""
        return None if self.encoder is None else self.encoder(view)

    def embedding_penalty(self, u: torch.Tensor, v: torch.Tensor,
                          emb: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean squared norm of the embeddings of edges (u, v): the L2 term of the factorisation."""
        return (emb[0][u].pow(2).sum() + emb[1][v].pow(2).sum()) / len(u)

    def forward(self, x: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                emb: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """Logits (n, 4) of edges with standardised features x (n, F) and node indices u, v."""
        if emb is None:
            return self.head(x)
        eu, ev = emb[0][u], emb[1][v]
        prod = eu * ev
        if self.spec.kind == "mf":
            return self.head(x) + self.bilinear(prod)
        return self.head(torch.cat([x, eu, ev, prod], dim=1)) + self.bilinear(prod)


# --- checkpoints and the fitted-model interface ------------------------------------------------------
class FittedModel:
    """A trained model with its standardisation and node embeddings (contracts.EngagementModel)."""

    def __init__(self, net: EngagementNet, feature_names: list[str], x_mean: torch.Tensor,
                 x_std: torch.Tensor,
                 user_ids: torch.Tensor, video_ids: torch.Tensor,
                 emb: tuple[torch.Tensor, torch.Tensor] | None, batch_size: int = 65536) -> None:
        self.net = net.eval()
        self.name = net.spec.name
        self.feature_names = list(feature_names)
        self.x_mean, self.x_std = x_mean.float(), x_std.float()
        self.user_ids, self.video_ids = user_ids.numpy(), video_ids.numpy()
        self.emb = emb
        self.batch_size = batch_size

    def _node_index(self, ids: np.ndarray, known: np.ndarray, what: str) -> tuple[torch.Tensor, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
        found = known[pos] == ids
        if not found.all():
            log.warning("%s: %d of %d %s id(s) unseen in training (e.g. %d): scored with the mean embedding",
                        self.name, int((~found).sum()), len(ids), what, int(ids[~found][0]))
        return torch.from_numpy(np.where(found, pos, len(known))), found

    def predict_proba(self, X: np.ndarray, user_id: np.ndarray, video_id: np.ndarray) -> np.ndarray:
        """(n, 4) probabilities in HEADS order for raw f_* rows X (columns in feature_names order)."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"{self.name}: X must have shape (n, {len(self.feature_names)}) with columns "
                             f"{self.feature_names}; found shape {X.shape}")
        if not len(X) == len(user_id) == len(video_id):
            raise ValueError(f"{self.name}: X, user_id, video_id lengths differ: "
                             f"{len(X)}, {len(user_id)}, {len(video_id)}")
        emb = None
        u = v = torch.zeros(len(X), dtype=torch.int64)
        if self.emb is not None:
            u, _ = self._node_index(user_id, self.user_ids, "user")
            v, _ = self._node_index(video_id, self.video_ids, "video")
            # the extra last row (index len(known)) is the mean embedding, for unseen ids
            emb = tuple(torch.cat([e, e.mean(0, keepdim=True)]) for e in self.emb)
        xs = (torch.from_numpy(X) - self.x_mean) / self.x_std
        out = []
        with torch.no_grad():
            for i in range(0, len(X), self.batch_size):
                sl = slice(i, i + self.batch_size)
                out.append(torch.sigmoid(self.net(xs[sl], u[sl], v[sl], emb)))
        return (torch.cat(out) if out else torch.zeros(0, len(HEADS))).numpy().astype(np.float64)


def save_checkpoint(path: str | Path, net: EngagementNet, g: dict,
                    emb: tuple[torch.Tensor, torch.Tensor] | None, hparams: dict) -> None:
    """Save weights, sizes, standardisation and eval-view embeddings as a plain tensor dict."""
    enc = net.encoder
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "spec": asdict(net.spec),
        "hparams": dict(hparams),
        "n_features": len(g["feature_names"]),
        "n_users": len(g["user_ids"]),
        "n_videos": len(g["video_ids"]),
        "user_x_dim": int(enc.lin_u.in_features) if isinstance(enc, GNNEncoder) else 0,
        "video_x_dim": int(enc.lin_v.in_features) if isinstance(enc, GNNEncoder) else 0,
        "feature_names": list(g["feature_names"]),
        "x_mean": g["x_mean"], "x_std": g["x_std"],
        "user_ids": g["user_ids"], "video_ids": g["video_ids"],
        "state_dict": {k: t.detach().cpu() for k, t in net.state_dict().items()},
        "user_emb": emb[0].detach().cpu() if emb else torch.zeros(0),
        "video_emb": emb[1].detach().cpu() if emb else torch.zeros(0),
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def load_model(path: str | Path, batch_size: int = 65536) -> FittedModel:
    """Load R/models/<model>/model.pt (weights_only=True) as a FittedModel; clear error if unusable."""
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any failure means the checkpoint is unusable
        raise ValueError(f"cannot read model checkpoint {path}: {type(e).__name__}: {e}; "
                         "the file is missing or corrupted, rerun the `train` rule") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"model checkpoint {path}: expected format {CHECKPOINT_FORMAT!r}, found {found!r}")
    spec = ModelSpec(**ckpt["spec"])
    net = EngagementNet(spec, ckpt["n_features"], ckpt["n_users"], ckpt["n_videos"], ckpt["user_x_dim"],
                        ckpt["video_x_dim"])
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise ValueError(f"model checkpoint {path}: weights do not match model {spec.name}: {e}") from e
    emb = (ckpt["user_emb"], ckpt["video_emb"]) if spec.kind in ("mf", "gnn") else None
    return FittedModel(net, ckpt["feature_names"], ckpt["x_mean"], ckpt["x_std"], ckpt["user_ids"],
                       ckpt["video_ids"], emb, batch_size)

"""The engagement models behind one interface (contracts.EngagementModel).

All models predict four logits (HEADS order) from one shared edge-feature head; they differ only in
what the head sees:
  logreg        linear head on the standardised edge features
  edge_mlp      MLP head (models.mlp_hidden) on the standardised edge features
  mf_h{d}       matrix factorisation: the MLP head on the edge features plus a per-head bilinear score
                <W_k e_u, e_v> of learnable user and video id embeddings (size d, L2-penalised,
                models.emb_l2); no message passing. The collaborative baseline a GNN has to beat.
  lightgcn_h{d} LightGCN (He et al. 2020): the id embeddings propagated by `lightgcn_layers` torch-geometric
                LGConv layers over the label-free, symmetric-normalised exposure graph of the train views
                (no feature transform, no nonlinearity), averaged over layers 0..K; the result enters
                only the per-head bilinear score, beside the MLP head on the edge features. L2 on the id
                embeddings (layer 0) only. The graph carries no label, so every train edge is supervised.
  gnn_h{d}      GraphSAGE: id embeddings plus projected node features, then `gnn_layers` bipartite
                torch-geometric SAGEConv layers (mean aggregation) over the train view's message edges;
                the MLP head on [edge features, e_u, e_v, e_u * e_v] plus the bilinear score. Its node
                features hold label means of the message edges, so it is supervised only on the train
                edges that pass no message (graph `train_target_mask`, models.target_frac).
Propagation is full-graph, over torch.sparse CSR adjacencies (adj_t), so neither pyg-lib nor
torch-sparse is needed.

The families (name grammar, the config keys each reads, graph use, cost) are owned by vmrec.registry;
model_spec here parses a name with it and the network below is built per family kind.

`load_model(path)` returns a `FittedModel`: `predict_proba(X, user_id, video_id) -> (n, 4)` scores any
(user, video, context) rows; X holds the raw f_* columns in `feature_names` order.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import LGConv, SAGEConv

from vmrec.contracts import HEADS
from vmrec.graph import mean_adjacency, sym_norm_adjacency
from vmrec.io import atomic_path
from vmrec.registry import (
    BY_NAME,
    FAMILIES,
    family_of,
    hidden_dim,
    model_names,  # noqa: F401  (re-exported: the model list of a config)
)

log = logging.getLogger("vmrec")
CHECKPOINT_FORMAT = "vmrec-model-v1"
GRAPH_KINDS = tuple(f.name for f in FAMILIES if f.graph)  # kinds that propagate over a graph view


@dataclass
class ModelSpec:
    """Architecture of one named model (everything but the data sizes)."""

    name: str
    kind: str  # logreg | edge_mlp | mf | lightgcn | gnn
    mlp_hidden: list[int] = field(default_factory=list)
    hidden_dim: int = 0
    gnn_layers: int = 0  # propagation layers (gnn: models.gnn_layers, lightgcn: models.lightgcn_layers)


def model_spec(name: str, models_cfg: dict) -> ModelSpec:
    """The spec of model `name` (grammar: vmrec.registry) from the config's `models` section or from the
    model's params (vmrec.registry.model_params)."""
    family = family_of(name)
    reads = {param for param, _ in family.reads}
    mlp_hidden = list(models_cfg["mlp_hidden"]) if "mlp_hidden" in reads else []
    layers = models_cfg.get(family.layers_key, 0) if family.layers_key else 0
    return ModelSpec(name, family.name, mlp_hidden, hidden_dim(name), int(layers))


class GraphView:
    """One propagation graph on a device: for gnn (GraphSAGE) the bipartite mean adjacencies and node
    features of a view (train or eval); for lightgcn the symmetric-normalised exposure graph."""

    def __init__(self, g: dict, view: str, device: torch.device | str = "cpu", kind: str = "gnn") -> None:
        u, v = g[f"{view}_msg_user"], g[f"{view}_msg_video"]
        self.n_users, self.n_videos = len(g["user_ids"]), len(g["video_ids"])
        self.kind = kind
        if kind == "lightgcn":
            self.adj = sym_norm_adjacency(u, v, self.n_users, self.n_videos).to(device)
            return
        self.adj_uv = mean_adjacency(u, v, self.n_users, self.n_videos).to(device)  # videos -> users
        self.adj_vu = mean_adjacency(v, u, self.n_videos, self.n_users).to(device)  # users -> videos
        self.user_x = g[f"{view}_user_x"].to(device)
        self.video_x = g[f"{view}_video_x"].to(device)


class IdEmbeddings(nn.Module):
    """Learnable user and video id embeddings: the encoder of mf models, the base of the GNNs'."""

    def __init__(self, n_users: int, n_videos: int, dim: int) -> None:
        super().__init__()
        self.emb_u, self.emb_v = nn.Embedding(n_users, dim), nn.Embedding(n_videos, dim)
        nn.init.normal_(self.emb_u.weight, std=0.1)
        nn.init.normal_(self.emb_v.weight, std=0.1)

    def forward(self, view: GraphView | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.emb_u.weight, self.emb_v.weight


class _SymmetricSpmm(torch.autograd.Function):
    """y = A x for a symmetric torch.sparse CSR matrix A, with the backward dL/dx = A^T g = A g.

    torch.sparse.mm's own backward forms A^T by a sort of all its entries at every call. Paired at full
    size (17.5M entries, 2 threads, batch 65,536, a shared machine), a training step takes 2.2 s with
    this backward (a second product with A itself) and int32 indices against 10.9 s with autograd's and
    int64 ones (docs/models.md). Gradients equal autograd through LGConv (tests/test_models.py)."""

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, torch.sparse.mm(ctx.adj, grad)


class SymmetricLGConv(LGConv):
    """torch-geometric's LGConv over a pre-normalised symmetric adj_t (normalize=False), its sparse
    product backed by _SymmetricSpmm (the transpose of A is A)."""

    def __init__(self) -> None:
        super().__init__(normalize=False)

    def message_and_aggregate(self, adj_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _SymmetricSpmm.apply(adj_t, x)


class LightGCNEncoder(nn.Module):
    """LightGCN: id embeddings E0, E_{k+1} = A_sym E_k by LGConv (K layers), output mean(E0..EK)."""

    def __init__(self, n_users: int, n_videos: int, dim: int, layers: int) -> None:
        super().__init__()
        self.ids = IdEmbeddings(n_users, n_videos, dim)
        self.convs = nn.ModuleList(SymmetricLGConv() for _ in range(layers))  # A is pre-normalised

    def forward(self, view: GraphView) -> tuple[torch.Tensor, torch.Tensor]:
        eu, ev = self.ids()
        h = torch.cat([eu, ev])
        out = h
        for conv in self.convs:
            h = conv(h, view.adj)
            out = out + h
        out = out / (len(self.convs) + 1)
        return out[: len(eu)], out[len(eu):]


class SageEncoder(nn.Module):
    """Bipartite GraphSAGE: id embedding + projected node features, then `layers` pairs of SAGEConv
    (videos -> users, users -> videos; ReLU between layers) and a skip from the input embeddings."""

    def __init__(self, n_users: int, n_videos: int, user_x_dim: int, video_x_dim: int, dim: int,
                 layers: int) -> None:
        super().__init__()
        self.ids = IdEmbeddings(n_users, n_videos, dim)
        self.lin_u, self.lin_v = nn.Linear(user_x_dim, dim), nn.Linear(video_x_dim, dim)
        self.conv_u = nn.ModuleList(SAGEConv((dim, dim), dim, aggr="mean") for _ in range(layers))
        self.conv_v = nn.ModuleList(SAGEConv((dim, dim), dim, aggr="mean") for _ in range(layers))

    def forward(self, view: GraphView) -> tuple[torch.Tensor, torch.Tensor]:
        eu, ev = self.ids()
        hu = eu + self.lin_u(view.user_x)  # (U, dim)
        hv = ev + self.lin_v(view.video_x)  # (V, dim)
        hu0, hv0 = hu, hv
        last = len(self.conv_u) - 1
        for i, (cu, cv) in enumerate(zip(self.conv_u, self.conv_v, strict=True)):
            nu, nv = cu((hv, hu), view.adj_uv), cv((hu, hv), view.adj_vu)
            hu, hv = (nu, nv) if i == last else (torch.relu(nu), torch.relu(nv))
        return hu + hu0, hv + hv0  # skip: the id embeddings reach the head directly (MF path)


def _mlp(n_in: int, hidden: list[int], n_out: int) -> nn.Module:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class EngagementNet(nn.Module):
    """Shared edge-feature head (+ id embeddings for mf, a graph encoder for lightgcn and gnn) -> four
    logits."""

    def __init__(self, spec: ModelSpec, n_features: int, n_users: int = 0, n_videos: int = 0,
                 user_x_dim: int = 0, video_x_dim: int = 0) -> None:
        super().__init__()
        self.spec = spec
        self.encoder: SageEncoder | LightGCNEncoder | IdEmbeddings | None = None
        n_in = n_features
        if spec.kind == "mf":
            self.encoder = IdEmbeddings(n_users, n_videos, spec.hidden_dim)
        if spec.kind == "lightgcn":
            self.encoder = LightGCNEncoder(n_users, n_videos, spec.hidden_dim, spec.gnn_layers)
        if spec.kind == "gnn":
            self.encoder = SageEncoder(n_users, n_videos, user_x_dim, video_x_dim, spec.hidden_dim,
                                       spec.gnn_layers)
            n_in += 3 * spec.hidden_dim
        if self.encoder is not None:
            # per-head bilinear score <W_k eu, ev>: the matrix-factorisation term, added to the head's logits
            self.bilinear = nn.Linear(spec.hidden_dim, len(HEADS), bias=False)
        self.head = nn.Linear(n_in, len(HEADS)) if spec.kind == "logreg" else _mlp(n_in, spec.mlp_hidden,
                                                                                   len(HEADS))

    @property
    def needs_graph(self) -> bool:
        """Whether the model propagates over message edges (needs GraphViews)."""
        return self.spec.kind in GRAPH_KINDS

    def graph_views(self, g: dict, device: torch.device | str) -> tuple[GraphView | None, GraphView | None]:
        """(training view, evaluation view). GraphSAGE: the train view (older train edges, labelled
        messages) in training, the eval view (all train edges) for val/test/small. LightGCN: the label-free
        graph of all train edges for both (an edge's existence may reach its own prediction)."""
        if self.spec.kind == "gnn":
            return GraphView(g, "train", device, "gnn"), GraphView(g, "eval", device, "gnn")
        if self.spec.kind == "lightgcn":
            view = GraphView(g, "eval", device, "lightgcn")
            return view, view
        return None, None

    def embed(self, view: GraphView | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Node embeddings of a view (None for models without embeddings)."""
        return None if self.encoder is None else self.encoder(view)

    def embedding_penalty(self, u: torch.Tensor, v: torch.Tensor,
                          emb: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean squared norm of the embeddings of edges (u, v): the L2 term of the factorisation. LightGCN
        penalises its id embeddings (layer 0), the others the embeddings the score reads."""
        if self.spec.kind == "lightgcn":
            emb = self.encoder.ids()
        return (emb[0][u].pow(2).sum() + emb[1][v].pow(2).sum()) / len(u)

    def forward(self, x: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                emb: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """Logits (n, 4) of edges with standardised features x (n, F) and node indices u, v."""
        if emb is None:
            return self.head(x)
        eu, ev = emb[0][u], emb[1][v]
        prod = eu * ev
        if self.spec.kind in ("mf", "lightgcn"):
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
        "user_x_dim": int(enc.lin_u.in_features) if isinstance(enc, SageEncoder) else 0,
        "video_x_dim": int(enc.lin_v.in_features) if isinstance(enc, SageEncoder) else 0,
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
    emb = (ckpt["user_emb"], ckpt["video_emb"]) if BY_NAME[spec.kind].embeddings else None
    return FittedModel(net, ckpt["feature_names"], ckpt["x_mean"], ckpt["x_std"], ckpt["user_ids"],
                       ckpt["video_ids"], emb, batch_size)

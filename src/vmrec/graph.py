"""Graph tensors for the engagement models: node maps, node features, message edges, supervised edges.

Leakage rule (docs/data.md, "Leakage rules"): no label of a supervised target edge reaches its own
prediction. Every train edge is a supervised train target (split `train`). Train edges are also cut
by time for the models whose messages carry labels (the GraphSAGE family, gnn_h*): the oldest
(1 - target_frac) pass labelled messages in the *train view* and only the newest target_frac
(`train_target_mask`) are its targets. The *eval view* (val/test/small targets) passes messages over
all train edges; the label-free LightGCN propagates over it in training too (an edge's existence may
reach its own prediction, its label never).
Node features that use engagement (degree, label means) come from the view's message edges only, and
the feature standardisation is fitted on train edges only.

Everything is saved as one plain dict of tensors (plus the feature names), loadable with
`torch.load(path, weights_only=True)`:
  feature_names list[str]; x_mean, x_std (F,)            standardisation of the f_* columns (train)
  user_ids (U,), video_ids (V,)                          node index -> original id
  {view}_msg_user, {view}_msg_video (M,) int64, {view}_msg_y (M, 4) float32   message edges + labels
  {view}_user_x (U, Fu), {view}_video_x (V, Fv) float32  node features of the view (standardised)
  {split}_edge_id, {split}_user, {split}_video (n,) int64; {split}_x (n, F) float32 (float16 where
      the graph rule's x_dtype says so: full size), {split}_y (n, 4) float32
  train_target_mask (n_train,) bool                      train targets that are not train-view messages
views: train, eval; splits: contracts.SPLITS (train = every train edge, in edge-table order).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vmrec.contracts import EDGE_ID_COLUMNS, FEATURE_PREFIX, HEADS, SPLITS
from vmrec.io import atomic_path

log = logging.getLogger("vmrec")
VIEWS: tuple[str, ...] = ("train", "eval")
LABEL_PRIOR_STRENGTH = 5.0  # pseudo-count shrinking a node's label means towards the global mean


def model_input_columns(columns: list[str] | pd.Index) -> list[str]:
    """The model inputs of an edge table: every f_* column, in table order."""
    return [c for c in columns if str(c).startswith(FEATURE_PREFIX)]


META_COLUMNS = ("edge_id", "user_id", "video_id", "timestamp", "split", *HEADS)


def check_edges(edges: pd.DataFrame, where: str = "edge table", feats: list[str] | None = None) -> list[str]:
    """Validate the columns the models need; return the feature names. `feats`: the f_* columns when
    `edges` holds only the META_COLUMNS (the features are then checked column by column as they load)."""
    missing = [c for c in META_COLUMNS if c not in edges]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; "
                         f"expected {list(EDGE_ID_COLUMNS)} + {list(HEADS)}")
    feats = model_input_columns(edges.columns) if feats is None else feats
    if not feats:
        raise ValueError(f"{where}: no model input column (prefix {FEATURE_PREFIX!r}) found")
    bad = sorted(set(edges["split"].astype(str).unique()) - set(SPLITS))
    if bad:
        raise ValueError(f"{where}: column 'split' holds {bad}; allowed {list(SPLITS)}")
    for c in HEADS:
        _check_nulls(edges[c].to_numpy(), c, where)
    if not (edges["split"] == "train").any():
        raise ValueError(f"{where}: no row with split == 'train'")
    return feats


def _check_nulls(col: np.ndarray, name: str, where: str) -> None:
    nulls = pd.isna(col)
    if nulls.any():
        row = int(np.flatnonzero(nulls)[0])
        raise ValueError(f"{where}: column {name!r} has {int(nulls.sum())} null(s), first at row {row}")


def _node_features(
    static: np.ndarray, n_nodes: int, node: np.ndarray, y: np.ndarray, y_mean: np.ndarray
) -> np.ndarray:
    """[static features, relative log degree, shrunk label means over message edges] per node.

    The degree is relative to the view's mean degree, so the train view (fewer message edges) and the
    eval view (all train edges) give the same feature distribution."""
    deg = np.bincount(node, minlength=n_nodes).astype(np.float64)
    rel_log_deg = np.log((deg + 1) / (deg.mean() + 1))
    sums = np.stack([np.bincount(node, weights=y[:, k], minlength=n_nodes) for k in range(y.shape[1])], 1)
    means = (sums + LABEL_PRIOR_STRENGTH * y_mean) / (deg[:, None] + LABEL_PRIOR_STRENGTH)
    return np.concatenate([static, rel_log_deg[:, None], means], axis=1).astype(np.float32)


def build_graph(edges: pd.DataFrame, target_frac: float = 0.5, x_dtype: str = "float32") -> dict:
    """Build the graph tensor dict (module docstring) from an edge table in memory."""
    feats = check_edges(edges)
    return _build(edges, feats, lambda c: edges[c].to_numpy(np.float32), target_frac, x_dtype, "edge table")


def build_graph_from_parquet(path: str | Path, target_frac: float = 0.5, x_dtype: str = "float32") -> dict:
    """build_graph on edges.parquet, reading the f_* columns one at a time: memory holds the id/label
    columns, one feature column and the target rows' standardised features (`x_dtype`), not the table
    (17M rows x 164 features at full scale: 11 GB in float32)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    meta = pf.read(columns=[c for c in META_COLUMNS if c in names]).to_pandas()
    feats = check_edges(meta, str(path), model_input_columns(names))
    return _build(meta, feats, lambda c: pf.read(columns=[c]).column(0).to_numpy().astype(np.float32,
                                                                                              copy=False),
                  target_frac, x_dtype, str(path))


def _build(meta: pd.DataFrame, feats: list[str], column, target_frac: float, x_dtype: str,
           where: str) -> dict:
    """The graph dict from the id/label columns `meta` and `column(name) -> float32 array` per feature."""
    if not 0 < target_frac < 1:
        raise ValueError(f"target_frac must be in (0, 1); found {target_frac}")
    if x_dtype not in ("float32", "float16"):
        raise ValueError(f"x_dtype must be float32 or float16; found {x_dtype!r}")
    split = meta["split"].astype(str).to_numpy()
    users, u_idx = np.unique(meta["user_id"].to_numpy(np.int64), return_inverse=True)
    videos, v_idx = np.unique(meta["video_id"].to_numpy(np.int64), return_inverse=True)
    n_u, n_v = len(users), len(videos)
    y = meta[list(HEADS)].to_numpy(np.float32)

    train_rows = np.flatnonzero(split == "train")
    ts = meta["timestamp"].to_numpy(np.float64)[train_rows]
    if np.isnan(ts).any():
        raise ValueError(f"{where}: {int(np.isnan(ts).sum())} train row(s) have a null timestamp; "
                         "train must come from big_matrix (timestamped)")
    eid = meta["edge_id"].to_numpy(np.int64)
    train_rows = train_rows[np.lexsort((eid[train_rows], ts))]  # oldest first, ties by edge_id
    n_msg = len(train_rows) - max(1, int(round(target_frac * len(train_rows))))
    if n_msg < 1:
        raise ValueError(f"train has {len(train_rows)} edge(s): too few to cut into messages and targets")
    msg_rows = {"train": train_rows[:n_msg], "eval": train_rows}
    target_rows = {"train": np.sort(train_rows)}
    is_msg = np.zeros(len(meta), dtype=bool)
    is_msg[train_rows[:n_msg]] = True
    for s in SPLITS[1:]:
        target_rows[s] = np.flatnonzero(split == s)
    # the standardised features of the target rows, split after split in one block (no second copy)
    all_targets = np.concatenate([target_rows[s] for s in SPLITS])
    bounds = np.cumsum([0, *(len(target_rows[s]) for s in SPLITS)])
    xs = np.empty((len(all_targets), len(feats)), dtype=x_dtype)
    x_mean = np.empty(len(feats), dtype=np.float32)
    x_std = np.empty(len(feats), dtype=np.float32)
    first = np.unique(u_idx, return_index=True)[1]  # static user features: the user's first row
    # feature index -> column of the user / video static features
    user_pos = {j: k for k, j in enumerate(j for j, c in enumerate(feats) if c.startswith("f_user_"))}
    item_pos = {j: k for k, j in enumerate(j for j, c in enumerate(feats) if c.startswith("f_item_"))}
    user_static = np.empty((n_u, len(user_pos)), dtype=np.float32)
    # video features: the mean of the f_item_* values of its message edges (older views only)
    vstatic = {view: np.empty((n_v, len(item_pos)), dtype=np.float32) for view in VIEWS}
    vcount = {view: np.maximum(np.bincount(v_idx[msg_rows[view]], minlength=n_v), 1) for view in VIEWS}
    for j, c in enumerate(feats):
        col = column(c)
        _check_nulls(col, c, where)
        tr = col[train_rows].astype(np.float64)
        x_mean[j], sd = tr.mean(), tr.std()
        x_std[j] = sd if sd > 1e-6 else 1.0
        z = (col - x_mean[j]) / x_std[j]
        xs[:, j] = z[all_targets]
        if j in user_pos:
            user_static[:, user_pos[j]] = z[first]
        if j in item_pos:
            for view in VIEWS:
                rows = msg_rows[view]
                vstatic[view][:, item_pos[j]] = (
                    np.bincount(v_idx[rows], weights=z[rows], minlength=n_v) / vcount[view])

    out: dict = {
        "feature_names": list(feats),
        "x_mean": torch.from_numpy(x_mean),
        "x_std": torch.from_numpy(x_std),
        "user_ids": torch.from_numpy(users),
        "video_ids": torch.from_numpy(videos),
    }
    node_stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for view in VIEWS:
        rows = msg_rows[view]
        y_mean = y[rows].mean(0).astype(np.float64)
        ux = _node_features(user_static, n_u, u_idx[rows], y[rows], y_mean)
        vx = _node_features(vstatic[view], n_v, v_idx[rows], y[rows], y_mean)
        if view == "train":  # standardise node features with the train view's statistics
            node_stats["user"] = (ux.mean(0), np.where(ux.std(0) > 1e-6, ux.std(0), 1.0))
            node_stats["video"] = (vx.mean(0), np.where(vx.std(0) > 1e-6, vx.std(0), 1.0))
        ux = (ux - node_stats["user"][0]) / node_stats["user"][1]
        vx = (vx - node_stats["video"][0]) / node_stats["video"][1]
        out[f"{view}_msg_user"] = torch.from_numpy(u_idx[rows].astype(np.int64))
        out[f"{view}_msg_video"] = torch.from_numpy(v_idx[rows].astype(np.int64))
        out[f"{view}_msg_y"] = torch.from_numpy(y[rows])
        out[f"{view}_user_x"] = torch.from_numpy(ux.astype(np.float32))
        out[f"{view}_video_x"] = torch.from_numpy(vx.astype(np.float32))
    xt = torch.from_numpy(xs)
    for k, s in enumerate(SPLITS):
        rows = target_rows[s]
        out[f"{s}_edge_id"] = torch.from_numpy(eid[rows])
        out[f"{s}_user"] = torch.from_numpy(u_idx[rows].astype(np.int64))
        out[f"{s}_video"] = torch.from_numpy(v_idx[rows].astype(np.int64))
        out[f"{s}_x"] = xt[bounds[k]: bounds[k + 1]]  # views of one block: saved once
        out[f"{s}_y"] = torch.from_numpy(y[rows])
    out["train_target_mask"] = torch.from_numpy(~is_msg[target_rows["train"]])
    log.info("graph: %d users, %d videos, %d features (%s); train view %d message / %d target edges; "
             "eval view %d message edges; %s", n_u, n_v, len(feats), x_dtype, n_msg,
             len(train_rows) - n_msg, len(train_rows),
             ", ".join(f"{s}={len(target_rows[s])}" for s in SPLITS[1:]))
    return out


def graph_summary(g: dict) -> dict:
    """Sizes of a graph dict, for graph/summary.json and the log."""
    return {
        "users": len(g["user_ids"]),
        "videos": len(g["video_ids"]),
        "features": list(g["feature_names"]),
        "message_edges": {v: len(g[f"{v}_msg_user"]) for v in VIEWS},
        "target_edges": {s: len(g[f"{s}_edge_id"]) for s in SPLITS},
        "sage_train_targets": int(g["train_target_mask"].sum()),
        "user_node_features": int(g["eval_user_x"].shape[1]),
        "video_node_features": int(g["eval_video_x"].shape[1]),
    }


def save_graph(g: dict, path: str | Path) -> None:
    """torch.save the graph dict atomically."""
    with atomic_path(path) as tmp:
        torch.save(g, tmp)


def load_graph(path: str | Path) -> dict:
    """Load a graph dict saved by save_graph (weights_only=True), with a clear error if unreadable."""
    try:
        # mmap: a job reads only the pages of the tensors it touches (a sweep never reads test/small x)
        g = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except Exception as e:  # noqa: BLE001 - any failure means the file is not a usable graph
        raise ValueError(f"cannot read graph tensors {path}: {type(e).__name__}: {e}; "
                         "rerun the `graph` rule") from e
    need = ["feature_names", "x_mean", "x_std", "user_ids", "video_ids"]
    need += [f"{v}_{k}" for v in VIEWS for k in ("msg_user", "msg_video", "msg_y", "user_x", "video_x")]
    need += [f"{s}_{k}" for s in SPLITS for k in ("edge_id", "user", "video", "x", "y")]
    need += ["train_target_mask"]
    missing = [k for k in need if k not in g]
    if missing:
        raise ValueError(f"graph tensors {path}: missing key(s) {missing}; rerun the `graph` rule")
    return g


def mean_adjacency(dst: torch.Tensor, src: torch.Tensor, n_dst: int, n_src: int) -> torch.Tensor:
    """adj_t (n_dst, n_src) of the bipartite edges src -> dst as a torch.sparse CSR matrix of ones: what
    a torch-geometric conv with a mean aggregation (SAGEConv) takes in place of an edge_index."""
    return _csr(dst, src, torch.ones(len(dst)), n_dst, n_src)


def sym_norm_adjacency(user: torch.Tensor, video: torch.Tensor, n_users: int, n_videos: int) -> torch.Tensor:
    """The label-free exposure graph of LightGCN: users 0..U-1 and videos U..U+V-1 as one node set, each
    view (user, video) an undirected edge, weights 1 / sqrt(deg_u deg_v) (D^-1/2 A D^-1/2, no self loops;
    repeated views add up). A symmetric (U+V, U+V) torch.sparse CSR matrix, LGConv's adj_t.

    Its indices are int32 when the entries fit: the CPU product (MKL) takes int32 indices and copies
    int64 ones to int32 at every call, about 20% of a product at full size (17.5M entries)."""
    n = n_users + n_videos
    rows = torch.cat([user, video + n_users])
    cols = torch.cat([video + n_users, user])
    deg = torch.bincount(rows, minlength=n).clamp(min=1).to(torch.float32)
    vals = deg[rows].rsqrt() * deg[cols].rsqrt()
    return _csr(rows, cols, vals, n, n, int32=len(rows) < 2**31)


def _csr(rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, n_rows: int,
         n_cols: int, int32: bool = False) -> torch.Tensor:
    """CSR matrix from COO triplets by one sort (duplicate entries are kept; a product sums them, like
    coalescing would); much cheaper than sparse_coo_tensor(...).coalesce().to_sparse_csr(). int32:
    32-bit crow and column indices (the caller checks that the entries fit)."""
    order = torch.argsort(rows * n_cols + cols)
    crow = torch.zeros(n_rows + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_rows), 0)
    cols = cols[order]
    if int32:
        crow, cols = crow.to(torch.int32), cols.to(torch.int32)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it is what we want here
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols, vals[order], (n_rows, n_cols),
                                       check_invariants=False)

"""Candidate pools for logged sessions, drawn and scored with a model's predicted heads (`source: model`).

Pool of a session (`draw_pools`): a fresh draw of max(pool_size, 2 L) candidates (the list must be a small
part of its pool for the selection to be informative), without replacement, from the catalogue (or the
videos active on the session's date) in proportion to their views (`popularity_tilt`) or uniformly; the
observed list rides along to be embedded but is not ranked. Scoring a candidate v: the f_ctx_* and
f_user_* values of the session's first shown view (edge table) with the f_item_* values of (v, date) from
item_features.parquet, then `model.predict_proba`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from tqdm import tqdm

from vmrec.contracts import PROB_COLUMNS
from vmrec.value_model.estimate import MIN_SESSIONS

log = logging.getLogger("vmrec")


def session_frame(sessions: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """sessions.parquet joined to the edge table's big rows (by csv_row): adds edge_id and date."""
    big = edges.loc[edges["source"] == "big", ["csv_row", "edge_id", "date"]]
    out = sessions.merge(big, on="csv_row", how="left", validate="many_to_one")
    if out["edge_id"].isna().any():
        row = int(out.loc[out["edge_id"].isna(), "csv_row"].iloc[0])
        raise ValueError(
            f"sessions: csv_row {row} has no big row in the edge table (stale sessions.parquet?)"
        )
    return out


def draw_pools(
    sess: pd.DataFrame,
    pool_size: int,
    popularity_tilt: bool,
    seed: int,
    progress: bool = True,
    *,
    candidates: str = "catalogue",
    include_shown: bool = False,
    blocked: dict[int, np.ndarray] | None = None,
    reference: pd.DataFrame | None = None,
    chunk: int = 512,
) -> pd.DataFrame:
    """Long pool table (session_id, video_id, shown, position, eligible, date) for sessions with a `date`.

    candidates: `catalogue` = every video viewed in the sessions, `day_active` = videos viewed on the
    session's date (views counted in `reference`, default `sess`: pass every session when `sess` is a
    subsample); drawn in proportion to their views (`popularity_tilt`) or uniformly, leaving out the
    user's `blocked` videos (pairs the log cannot hold, e.g. the user's small-matrix videos).
    include_shown False (default): a fresh pool of max(pool_size, 2 L) candidates is ranked, as the policy
    ranked its own pool, and the observed rows are only embedded (eligible False): a pool made of the shown
    videos plus random extras holds the winners of an earlier ranking and biases the estimate (measured on
    synthetic truth, true heads: 18 degrees vs 9). True: the shown videos plus extras up to that size.

    Each session's draw without replacement is the top of `log(weight) + Gumbel noise` over its candidates
    (Gumbel top-k: the same distribution as drawing one by one in proportion to the weights), done for
    `chunk` sessions at a time as one array.
    """
    if candidates not in ("catalogue", "day_active"):
        raise ValueError(f"value_model.pool_candidates must be catalogue or day_active; found {candidates!r}")
    rng = np.random.default_rng(seed)
    blocked = blocked or {}
    ref = sess if reference is None else reference
    s = sess.sort_values(["session_id", "position"], kind="stable")
    sids, start, length = np.unique(s["session_id"].to_numpy(), return_index=True, return_counts=True)
    shown_v = s["video_id"].to_numpy(np.int64)
    date = s["date"].to_numpy()[start]
    user = s["user_id"].to_numpy(np.int64)[start]
    size = np.maximum(pool_size, 2 * length)
    if candidates == "day_active":
        active = ref.groupby(["date", "video_id"]).size()
        groups = [(g.index.get_level_values("video_id").to_numpy(np.int64), g.to_numpy(float),
                   np.flatnonzero(date == d)) for d, g in active.groupby(level="date")]
    else:
        views = ref.groupby("video_id").size()
        groups = [(views.index.to_numpy(np.int64), views.to_numpy(float), np.arange(len(sids)))]
    def columns(vids: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Positions in the sorted candidates `vids` of those `ids` it holds."""
        col = np.searchsorted(vids, ids)
        return col[(col < len(vids)) & (vids[np.minimum(col, len(vids) - 1)] == ids)]

    drawn_s, drawn_v, drawn_r = [], [], []
    bar = tqdm(total=len(sids), desc="value model: pools", disable=not progress)
    for vids, n, members in groups:
        logw = np.log(n) if popularity_tilt else np.zeros(len(vids))
        blocked_cols: dict[int, np.ndarray] = {}  # per user: looked up once per candidate set
        for c0 in range(0, len(members), chunk):
            idx = members[c0 : c0 + chunk]
            keys = logw[None, :] + rng.gumbel(size=(len(idx), len(vids)))
            for i, si in enumerate(idx):  # leave out blocked (and, with include_shown, shown) videos
                u = int(user[si])
                if u in blocked:
                    if u not in blocked_cols:
                        blocked_cols[u] = columns(vids, np.asarray(blocked[u], dtype=np.int64))
                    keys[i, blocked_cols[u]] = -np.inf
                if include_shown:
                    keys[i, columns(vids, shown_v[start[si] : start[si] + length[si]])] = -np.inf
            k = np.minimum(size[idx] - length[idx] if include_shown else size[idx],
                           np.isfinite(keys).sum(1))
            kmax = int(k.max()) if len(k) else 0
            bar.update(len(idx))
            if kmax == 0:
                continue
            top = np.argpartition(-keys, kmax - 1, axis=1)[:, :kmax]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(keys, top, 1), axis=1), 1)
            take = np.arange(kmax)[None, :] < k[:, None]
            drawn_s.append(np.broadcast_to(idx[:, None], top.shape)[take])
            drawn_v.append(vids[top[take]])
            drawn_r.append(np.broadcast_to(np.arange(kmax), top.shape)[take])
    bar.close()
    n_shown = len(shown_v)
    d_s = np.concatenate(drawn_s) if drawn_s else np.zeros(0, np.int64)
    sess_idx = np.concatenate([np.repeat(np.arange(len(sids)), length), d_s])
    is_shown = np.r_[np.ones(n_shown, bool), np.zeros(len(d_s), bool)]
    rank = np.r_[np.arange(n_shown) - np.repeat(start, length),
                 np.concatenate(drawn_r) if drawn_r else np.zeros(0, np.int64)]
    order = np.lexsort((rank, ~is_shown, sess_idx))  # per session: the list in order, then the draw
    return pd.DataFrame(
        {
            "session_id": sids[sess_idx[order]],
            "video_id": np.r_[shown_v, np.concatenate(drawn_v) if drawn_v else np.zeros(0, np.int64)][order],
            "shown": is_shown[order],
            "position": np.where(is_shown, rank, -1)[order],
            "eligible": (is_shown & include_shown | ~is_shown)[order],
            "date": date[sess_idx[order]],
        }
    )


def _planted_first_views(pools: pd.DataFrame, big_probs: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """Per planted session with its first shown view in the edge table: session_id, edge_id, date and the
    edge table's other columns (e.g. split). big_probs maps shown videos to csv rows, edges those to edge
    rows."""
    first = pools.loc[pools["shown"] & (pools["position"] == 0), ["session_id", "video_id"]]
    first = first.merge(big_probs[["session_id", "video_id", "csv_row"]], on=["session_id", "video_id"])
    first = first.sort_values("csv_row").drop_duplicates("session_id")
    big = edges.loc[edges["source"] == "big"].drop(columns="source")
    return first.merge(big, on="csv_row")


def planted_sessions_in(pools: pd.DataFrame, big_probs: pd.DataFrame, edges: pd.DataFrame,
                        splits: list[str]) -> np.ndarray:
    """Planted session ids whose first shown view lies in one of `splits` (edges: edge_id, source, csv_row,
    split): the sessions `value_model.session_splits` keeps on the logged-pools reference."""
    first = _planted_first_views(pools, big_probs, edges[["edge_id", "source", "csv_row", "split"]])
    return np.sort(first.loc[first["split"].isin(splits), "session_id"].to_numpy(np.int64))


def logged_pool_frames(pools: pd.DataFrame, big_probs: pd.DataFrame,
                       edges: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The logging policy's own candidate pools (synthetic truth/pools.parquet), ready for `score_pools`:
    (long table with each session's date, session frame of the first shown views: session_id, position 0,
    edge_id, user_id, date). big_probs (truth/big_probs.parquet) maps a planted session's shown videos to
    csv rows, `edges` (edge_id, source, csv_row, date) those to edge rows. Sessions whose first shown view
    is not in the edge table are left out."""
    first = _planted_first_views(pools, big_probs, edges[["edge_id", "source", "csv_row", "date"]])
    user = pools.drop_duplicates("session_id").set_index("session_id")["user_id"]
    sess = pd.DataFrame({"session_id": first["session_id"].to_numpy(), "position": 0,
                         "edge_id": first["edge_id"].to_numpy(np.int64),
                         "user_id": user.loc[first["session_id"]].to_numpy(np.int64),
                         "date": first["date"].to_numpy()})
    if sess.empty:
        raise ValueError("logged pools: no planted session's first shown view is in the edge table")
    long = pools.drop(columns=["user_id", *PROB_COLUMNS], errors="ignore")
    long = long.merge(sess[["session_id", "date"]], on="session_id")
    return long, sess


def held_out_sessions(sessions: pd.DataFrame, splits: list[str],
                      min_sessions: int = MIN_SESSIONS) -> pd.DataFrame:
    """The sessions (rows of sessions.parquet) whose split is in `splits` (value_model.session_splits).

    A model's heads on the views it trained on are fitted to those views' own labels, so training sessions
    describe the platform's selection with in-sample predictions; held-out sessions do not (the estimate
    moves by ~6 degrees on synthetic data: docs/value_model.md)."""
    keep = sessions[sessions["split"].isin(splits)]
    n_all, n_keep = sessions["session_id"].nunique(), keep["session_id"].nunique()
    if n_keep < min_sessions:
        found = sessions.drop_duplicates("session_id")["split"].value_counts().to_dict()
        raise ValueError(
            f"value_model.session_splits {list(splits)} keeps {n_keep} of {n_all} sessions; at least "
            f"{min_sessions} are needed (sessions per split: {found}). Add splits (e.g. [train, val, test]) "
            "or use more data")
    log.info("value model: %d of %d sessions in splits %s", n_keep, n_all, list(splits))
    return keep


def blocked_pairs(small_matrix_path) -> dict[int, np.ndarray]:
    """Per user, the videos of their small-matrix rows: KuaiRec's big log holds no (user, video) pair of the
    small block, so the logging policy's pools never held them (no candidate pool should)."""
    import pyarrow.parquet as pq

    return blocked_from_pairs(pq.read_table(small_matrix_path, columns=["user_id", "video_id"]).to_pandas())


def blocked_from_pairs(small: pd.DataFrame) -> dict[int, np.ndarray]:
    """blocked_pairs from the small matrix's (user_id, video_id) rows, however they were read."""
    return {int(u): np.unique(g.to_numpy(np.int64)) for u, g in small.groupby("user_id")["video_id"]}


def context_columns(feature_names: list[str]) -> list[str]:
    """The model inputs that describe the session (user and context), not the candidate video."""
    return [c for c in feature_names if c.startswith(("f_ctx_", "f_user_"))]


def first_view_context(sess: pd.DataFrame, edges_path, columns: list[str],
                       batch_rows: int = 1 << 20) -> pd.DataFrame:
    """The `columns` of each session's first view (edge table rows, indexed by edge_id), read in batches
    of rows so that memory holds one batch, not the 17M-row table."""
    import pyarrow.parquet as pq

    want = np.unique(sess.loc[sess["position"] == 0, "edge_id"].to_numpy(np.int64))
    parts = []
    for b in pq.ParquetFile(edges_path).iter_batches(batch_size=batch_rows, columns=["edge_id", *columns]):
        eid = b.column(0).to_numpy()
        keep = np.isin(eid, want)
        if keep.any():
            parts.append(pd.DataFrame({c: b.column(j + 1).to_numpy()[keep] for j, c in enumerate(columns)},
                                      index=eid[keep]))
    return pd.concat(parts) if parts else pd.DataFrame(columns=columns)


def score_pools(
    long: pd.DataFrame, sess: pd.DataFrame, edges_path, item_lookup, model, batch: int = 200_000,
    ctx: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add PROB_COLUMNS to a long pool table: model heads with the session's first-view context (`ctx`:
    first_view_context of the model's f_ctx_*/f_user_* columns, read from `edges_path` when None)."""
    names = list(model.feature_names)
    ctx_user = context_columns(names)
    item_cols = [c for c in names if c.startswith("f_item_")]
    first = sess[sess["position"] == 0][["session_id", "edge_id", "user_id"]]
    if ctx is None:
        ctx = first_view_context(sess, edges_path, ctx_user)
    ctx = ctx[ctx_user]
    row = long.merge(first, on="session_id", how="left")
    X = np.zeros((len(row), len(names)), dtype=np.float32)
    pos = {c: i for i, c in enumerate(names)}
    Xc = ctx.loc[row["edge_id"].to_numpy()].to_numpy(np.float32)
    for j, c in enumerate(ctx_user):
        X[:, pos[c]] = Xc[:, j]
    lookup_cols = list(item_lookup.columns)
    Xi = item_lookup(row["video_id"].to_numpy(), row["date"].to_numpy())
    for c in item_cols:
        X[:, pos[c]] = Xi[:, lookup_cols.index(c)]
    probs = np.concatenate(
        [
            model.predict_proba(
                X[s : s + batch],
                row["user_id"].to_numpy()[s : s + batch],
                row["video_id"].to_numpy()[s : s + batch],
            )
            for s in range(0, len(row), batch)
        ]
    )
    out = long.copy()
    for j, c in enumerate(PROB_COLUMNS):
        out[c] = probs[:, j].astype(np.float32)
    return out


def pick_model(metric_tables: dict[str, pd.DataFrame], choice: str) -> str:
    """`best` = the model with the highest mean validation AUC over the heads; else `choice` itself."""
    if choice != "best":
        if choice not in metric_tables:
            raise ValueError(
                f"value_model.model: {choice!r} has no metrics; available {sorted(metric_tables)}"
            )
        return choice
    scores = {}
    for name, t in metric_tables.items():
        sel = t[(t["split"] == "val") & (t["metric"] == "auc")]
        if len(sel):
            scores[name] = float(sel["value"].mean())
    if not scores:
        raise ValueError("value_model.model: best needs val AUC rows in the metrics tables; found none")
    best = max(scores, key=scores.get)
    log.info("best model by mean val AUC: %s (%s)", best, {k: round(v, 4) for k, v in scores.items()})
    return best


HEAD_SOURCES = ("true", "platform")
"""Which planted heads `truth_scorer` gives: the true probabilities, or the platform world's own heads."""


def truth_scorer(truth_dir, sess: pd.DataFrame, heads: str = "true"):
    """score(long) -> long + PROB_COLUMNS from the planted behaviour model (synthetic truth): the head
    probabilities of (user, video) at the hour of the session's first view (`sess`: rows of
    sessions.parquet). `heads` "true": the true probabilities. In the simple world these are what the
    logging policy ranked on; in the platform world (truth.json "world") they are the true heads without
    position or fatigue, and the policy ranked on its own heads. `heads` "platform" (platform world only):
    the platform's own heads, what its policy ranked on (the rows of truth/platform_pools.parquet for the
    candidates of its pools, `synthetic.platform.platform_probs` for any other video)."""
    from vmrec.synthetic import head_probs, local_hour
    from vmrec.synthetic.truth import read_truth, truth_world

    if heads not in HEAD_SOURCES:
        raise ValueError(f"truth_scorer: heads must be one of {HEAD_SOURCES}, got {heads!r}")
    world_name = read_truth(truth_dir)["world"]
    if heads == "platform" and world_name != "platform":
        raise ValueError(f"truth_scorer: the platform's own heads exist in the platform world only; "
                         f"the truth in {truth_dir} has world {world_name!r}")
    world = truth_world(truth_dir)
    first = sess.sort_values(["session_id", "position"], kind="stable").drop_duplicates("session_id")
    hour = pd.Series(local_hour(np.rint(first["timestamp"].to_numpy() * 1000).astype(np.int64)),
                     index=first["session_id"].to_numpy())
    user = pd.Series(first["user_id"].to_numpy(np.int64), index=first["session_id"].to_numpy())

    def score(long: pd.DataFrame) -> pd.DataFrame:
        sid = long["session_id"].to_numpy()
        v = long["video_id"].to_numpy(np.int64)
        u = user.loc[sid].to_numpy()
        probs = head_probs(world, u, v, hour.loc[sid].to_numpy(), world.dur[v])
        if heads == "platform":
            from vmrec.synthetic.platform import platform_probs

            probs = platform_probs(world, u, v, probs)
        out = long.copy()
        for j, c in enumerate(PROB_COLUMNS):
            out[c] = probs[:, j].astype(np.float32)
        return out

    return score

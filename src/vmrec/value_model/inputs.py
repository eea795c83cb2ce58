"""What the value-model estimate reads: the pools, the sampled alternatives and, on synthetic data, the
planted references (rule `estimate_weights`; `pipeline.run_estimate` consumes the result).

Two sources (config `value_model.source`):
- `model`: each held-out session's pool is drawn from the log (`scoring.draw_pools`) and scored with the
  selected model's predicted heads; the pool-marginal Plackett-Luce sees the logged lists against
  alternatives scored by the same model. On synthetic data the policy's own pools scored by the same
  heads are kept as a reference (they separate the heads' error from the drawn pools').
- `truth` (synthetic only): the planted pools with the true probabilities.

On synthetic data both also keep references with the planted heads: the logged lists and alternatives
scored with the true heads (source model) and, in the platform world, with the platform's own heads, what
its policy ranked on (w* is defined over those: the estimand), and the policy's pools scored with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vmrec.contracts import (
    N_TAGS,
    PLATFORM_PROB_COLUMNS,
    PROB_COLUMNS,
    TRUTH_BIG,
    TRUTH_PLATFORM_POOLS,
    TRUTH_POOLS,
)
from vmrec.synthetic.truth import planted_weights, read_truth
from vmrec.value_model.embeddings import ListEmbedder
from vmrec.value_model.marginal_pl import ChoiceData, session_choice_data
from vmrec.value_model.simulator import Pools, pools_from_long, resize_pools, subsample_long


@dataclass
class EstimatePaths:
    """The rule's input files (`models` and `metrics`: one per candidate model, source model only)."""

    sessions: str | Path
    tables_dir: str | Path
    edges: str | Path
    item_features: str | Path
    small: str | Path
    truth_dir: str | Path | None = None
    models: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)


@dataclass
class EstimateInputs:
    """Everything `run_estimate` estimates from. `make_pools(factor, tilt)`: a variant of the pools for the
    sensitivity study (None where it cannot be built). `pools_known`: the pools are the policy's own.
    `logged`: the policy's own pools scored by the same heads (synthetic, source model). `truth_pools`:
    held-out planted pools with the true probabilities (synthetic; the ranking agreement). `platform_pools`:
    the same pools scored with the platform world's own heads (what its policy ranked on).
    `reference_choices`: the estimate's logged lists and alternatives scored with planted heads instead
    (synthetic; key "true heads", and "platform heads" in the platform world): references of the
    pool-marginal Plackett-Luce that separate the heads' error from the estimator's."""

    pools: Pools
    make_pools: Callable[[float, bool], Pools | None]
    settings: dict
    choices: ChoiceData | None = None
    w_star: np.ndarray | None = None
    pools_known: bool = False
    logged: Pools | None = None
    truth_pools: Pools | None = None
    platform_pools: Pools | None = None
    reference_choices: dict[str, ChoiceData] = field(default_factory=dict)


def planted_world(truth_dir: str | Path) -> str:
    """The name of the synthetic world of the planted truth (truth.json "world")."""
    return read_truth(truth_dir)["world"]


def platform_heads_long(truth_dir: str | Path, long: pd.DataFrame) -> pd.DataFrame:
    """`long` (rows of TRUTH_POOLS) with PROB_COLUMNS replaced by the platform's own heads of the same
    (session, video) rows (TRUTH_PLATFORM_POOLS, platform world)."""
    path = Path(truth_dir) / TRUTH_PLATFORM_POOLS
    plat = pq.read_table(path).to_pandas()
    plat = plat[plat["session_id"].isin(long["session_id"].unique())]
    rename = dict(zip(PLATFORM_PROB_COLUMNS, PROB_COLUMNS, strict=True))
    out = long.drop(columns=list(PROB_COLUMNS)).merge(
        plat.rename(columns=rename), on=["session_id", "video_id"], how="left", validate="one_to_one")
    missing = out[list(PROB_COLUMNS)].isna().any(axis=1)
    if missing.any():
        row = out[missing].iloc[0]
        raise ValueError(f"{path}: no row for session_id {int(row['session_id'])}, video_id "
                         f"{int(row['video_id'])} of {TRUTH_POOLS} ({int(missing.sum())} rows missing)")
    return out[list(long.columns)]


def _reference_choices(vm, sess, views, truth_dir, seed, blocked, heads: list[str]) -> dict[str, ChoiceData]:
    """The logged lists and alternatives of the estimate (`sess`) scored with each of the planted `heads`
    (scoring.HEAD_SOURCES), keyed "<heads> heads"."""
    from vmrec.value_model.scoring import truth_scorer

    return {f"{h} heads": _choices(vm, sess, views, truth_scorer(truth_dir, sess, heads=h), seed, blocked)
            for h in heads}


def content_of_videos(tables_dir: str | Path, n_tags: int = N_TAGS) -> np.ndarray:
    """Content features per video id (for the content embeddings): tag shares (multi-hot / count),
    log median duration in seconds, log(1 + big views)."""
    tables_dir = Path(tables_dir)
    cats = pq.read_table(tables_dir / "item_categories.parquet").to_pandas()
    big = pq.read_table(tables_dir / "big_matrix.parquet", columns=["video_id", "video_duration"]).to_pandas()
    n = int(max(cats["video_id"].max(), big["video_id"].max())) + 1
    out = np.zeros((n, n_tags + 2), dtype=np.float32)
    for v, tags in zip(cats["video_id"].to_numpy(), cats["feat"], strict=True):
        tags = [t for t in tags if 0 <= t < n_tags]
        if tags:
            out[v, tags] = 1.0 / len(tags)
    g = big.groupby("video_id")["video_duration"]
    med = g.median()
    out[med.index.to_numpy(), n_tags] = np.log(med.to_numpy() / 1000.0 + 1e-3)
    cnt = g.size()
    out[cnt.index.to_numpy(), n_tags + 1] = np.log1p(cnt.to_numpy())
    return out


def recovery_case_inputs(settings: dict, truth_dir: str | Path, big: str | Path, small: str | Path,
                         seed: int):
    """Inputs of one recovery case (synthetic): the planted pools (subsampled), every planted pool in long
    form for the pools-unknown path (sessions with a logged start), a scorer of the true heads at the hour
    of each session's first logged view, and the blocked (small-matrix) pairs.
    Returns (pools, long, score, blocked)."""
    from vmrec.value_model.scoring import blocked_pairs

    long = pq.read_table(Path(truth_dir) / TRUTH_POOLS).to_pandas()
    needs = ListEmbedder(settings["embedding"]).needs_content
    content = content_of_videos(Path(big).parent) if needs else None
    pools = pools_from_long(subsample_long(long, settings["max_sessions"], seed), content, source=TRUTH_POOLS)
    ts = pq.read_table(big, columns=["csv_row", "timestamp"]).to_pandas()
    long, score = planted_scorer(truth_dir, long, ts)
    return pools, long, score, blocked_pairs(small)


def planted_scorer(truth_dir: str | Path, long: pd.DataFrame, timestamps: pd.DataFrame):
    """The planted sessions of `long` (rows of TRUTH_POOLS) that have a logged start, and a scorer of the
    true heads at the hour of each one's first logged view (`timestamps`: csv_row, timestamp of
    big_matrix's rows). Returns (long, score)."""
    from vmrec.value_model.scoring import truth_scorer

    big_probs = pq.read_table(Path(truth_dir) / TRUTH_BIG, columns=["csv_row", "session_id"]).to_pandas()
    start = big_probs.merge(timestamps, on="csv_row").groupby("session_id")["timestamp"].min().dropna()
    long = long[long["session_id"].isin(start.index)]
    first = long.drop_duplicates("session_id")[["session_id", "user_id"]]
    first = first.assign(position=0, timestamp=start.loc[first["session_id"]].to_numpy())
    return long, truth_scorer(truth_dir, first)


def truth_pool_variants(
    pools: Pools, popularity: np.ndarray, seed: int
) -> Callable[[float, bool], Pools | None]:
    """Sensitivity variants on the planted pools: subsample extras (x0.5), tilt by popularity or not;
    a larger pool cannot be built from fixed candidate sets."""

    def make(factor: float, tilt: bool) -> Pools | None:
        if factor >= 1:
            return None
        return resize_pools(pools, factor, popularity if tilt else None, seed)

    return make


def estimate_inputs(vm: dict, paths: EstimatePaths, *, seed: int, device) -> EstimateInputs:
    """The pools, alternatives and references of one estimate (config section `value_model`)."""
    truth_dir = Path(paths.truth_dir) if paths.truth_dir else None
    # content features: in every pool for a content embedding; on synthetic data also in the logged pools,
    # for their reference estimate with the content embedding (only there: ~100 MB per pool variant)
    needs_content = ListEmbedder(vm["embedding"]).needs_content
    all_content = content_of_videos(paths.tables_dir) if needs_content or truth_dir else None
    content = all_content if needs_content else None
    sessions = pq.read_table(paths.sessions).to_pandas()
    views = sessions.groupby("video_id").size()  # candidates of the sampled alternatives: the whole log
    w_star = planted_weights(truth_dir) if truth_dir else None
    settings = {**vm, "seed": seed, "device": str(device)}
    if vm["source"] == "truth":
        if truth_dir is None:
            raise ValueError("value_model.source: truth needs synthetic data (dataset: synthetic)")
        n = content.shape[0] if content is not None else int(sessions["video_id"].max()) + 1
        popularity = np.bincount(sessions["video_id"].to_numpy(), minlength=n).astype(float)
        return _truth_inputs(vm, sessions, views, content, popularity, truth_dir, paths, seed, settings,
                             w_star)
    return _model_inputs(vm, sessions, views, content, all_content, paths, seed, settings, w_star)


def _choices(vm: dict, sess: pd.DataFrame, views: pd.Series, score, seed: int, blocked) -> ChoiceData:
    mpl = vm["marginal_pl"]
    return session_choice_data(sess, views, score, n_alternatives=mpl["alternatives"],
                               pool_size=mpl["pool_size"], seed=seed, blocked=blocked)


def _truth_inputs(vm, sessions, views, content, popularity, truth_dir, paths, seed, settings, w_star):
    from vmrec.value_model.scoring import blocked_pairs, held_out_sessions, truth_scorer

    long = subsample_long(pq.read_table(truth_dir / TRUTH_POOLS).to_pandas(), vm["max_sessions"], seed)
    pools = pools_from_long(long, content, source=TRUTH_POOLS)
    held = held_out_sessions(sessions, list(vm["session_splits"]))
    sess = subsample_long(held, vm["max_sessions"], seed)
    blocked = blocked_pairs(paths.small)
    choices = _choices(vm, sess, views, truth_scorer(truth_dir, sess), seed, blocked)
    settings["pools"] = "planted logging pools (truth)"
    platform = planted_world(truth_dir) == "platform"
    return EstimateInputs(
        pools=pools, make_pools=truth_pool_variants(pools, popularity, seed), settings=settings,
        choices=choices, w_star=w_star, pools_known=True, truth_pools=pools,
        platform_pools=pools_from_long(platform_heads_long(truth_dir, long), source=TRUTH_PLATFORM_POOLS)
        if platform else None,
        reference_choices=_reference_choices(vm, sess, views, truth_dir, seed, blocked,
                                             ["platform"] if platform else []))


def _model_inputs(vm, sessions, views, content, all_content, paths, seed, settings, w_star):
    from vmrec.features import ItemFeatureLookup
    from vmrec.models import load_model
    from vmrec.value_model.scoring import (
        blocked_pairs,
        context_columns,
        draw_pools,
        first_view_context,
        held_out_sessions,
        logged_pool_frames,
        pick_model,
        planted_sessions_in,
        score_pools,
        session_frame,
    )

    metrics = {Path(p).stem: pd.read_csv(p) for p in paths.metrics}
    name = pick_model(metrics, vm["model"])
    model = load_model(Path(paths.models[0]).parents[1] / name / "model.pt")
    edges = pq.read_table(paths.edges, columns=["edge_id", "source", "csv_row", "date", "split"],
                          read_dictionary=["source", "split"]).to_pandas()
    splits = list(vm["session_splits"])
    truth_pools = platform_pools = None
    if paths.truth_dir:  # the same heads on the policy's own pools (same splits): a reference
        truth_dir = Path(paths.truth_dir)
        truth_pools = pq.read_table(truth_dir / TRUTH_POOLS).to_pandas()
        big_probs = pq.read_table(truth_dir / TRUTH_BIG,
                                  columns=["csv_row", "session_id", "video_id"]).to_pandas()
        held = planted_sessions_in(truth_pools, big_probs, edges, splits)
        truth_pools = subsample_long(truth_pools[truth_pools["session_id"].isin(held)],
                                     vm["max_sessions"], seed)
        logged_long, logged_sess = logged_pool_frames(truth_pools, big_probs, edges)
        platform = planted_world(truth_dir) == "platform"
        if platform:
            platform_pools = pools_from_long(platform_heads_long(truth_dir, truth_pools),
                                             source=TRUTH_PLATFORM_POOLS)
        truth_pools = pools_from_long(truth_pools, source=TRUTH_POOLS)  # true probabilities
        del big_probs
    held = held_out_sessions(sessions, splits)
    sess = session_frame(subsample_long(held, vm["max_sessions"], seed), edges)
    # candidates and their views come from every session, any split (dates only needed for day_active)
    sess_all = session_frame(sessions, edges) if vm["pool_candidates"] == "day_active" else sessions
    del edges
    blocked = blocked_pairs(paths.small)
    lookup = ItemFeatureLookup(pq.read_table(paths.item_features).to_pandas())
    ctx = first_view_context(sess, paths.edges, context_columns(model.feature_names))

    def score(long: pd.DataFrame) -> pd.DataFrame:
        return score_pools(long, sess, paths.edges, lookup, model, ctx=ctx)

    def make(factor: float, tilt: bool) -> Pools:
        long = draw_pools(sess, max(2, int(round(vm["pool_size"] * factor))), tilt, seed,
                          candidates=vm["pool_candidates"], include_shown=vm["pool_includes_shown"],
                          blocked=blocked, reference=sess_all)
        return pools_from_long(score(long), content)

    pools = make(1.0, vm["popularity_tilt"])
    choices = _choices(vm, sess, views, score, seed, blocked)
    logged, references = None, {}
    if paths.truth_dir:
        logged = pools_from_long(score_pools(logged_long, logged_sess, paths.edges, lookup, model),
                                 all_content, source=TRUTH_POOLS)
        references = _reference_choices(vm, sess, views, truth_dir, seed, blocked,
                                        ["true", "platform"] if platform else ["true"])
    settings["pools"] = f"drawn per session, scored by {name}; sessions of splits {splits}"
    settings["model_used"] = name
    return EstimateInputs(pools=pools, make_pools=make, settings=settings, choices=choices, w_star=w_star,
                          logged=logged, truth_pools=truth_pools, platform_pools=platform_pools,
                          reference_choices=references)

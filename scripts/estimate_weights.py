"""Rule `estimate_weights`: logged sessions -> value-model weights (weights.json), sensitivity.csv, figures.

source truth (synthetic): the planted pools and probabilities; source model: pools drawn per session and
scored with the selected model's predicted heads (vmrec.value_model.scoring)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vmrec.contracts import HEADS, TRUTH_BIG, TRUTH_JSON, TRUTH_POOLS
from vmrec.device import resolve_device
from vmrec.io import setup_logging
from vmrec.value_model.embeddings import ListEmbedder
from vmrec.value_model.marginal_pl import session_choice_data
from vmrec.value_model.pipeline import content_of_videos, run_estimate, set_threads, truth_pool_variants
from vmrec.value_model.simulator import pools_from_long, subsample_long


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    log = setup_logging(smk.log[0])
    set_threads(smk.threads)
    vm, seed = dict(smk.params.value_model), int(smk.params.seed)
    device = resolve_device(smk.params.device)
    tables_dir = Path(smk.input.big).parent
    # content features: in every pool for a content embedding; on synthetic data also in the logged pools,
    # for their reference estimate with the content embedding (only there: ~100 MB per pool variant)
    needs_content = ListEmbedder(vm["embedding"]).needs_content
    all_content = content_of_videos(tables_dir) if needs_content or smk.params.truth_dir else None
    content = all_content if needs_content else None
    sessions = pq.read_table(smk.input.sessions).to_pandas()
    popularity = np.bincount(
        sessions["video_id"].to_numpy(),
        minlength=content.shape[0] if content is not None else int(sessions["video_id"].max()) + 1,
    ).astype(float)
    views = sessions.groupby("video_id").size()  # candidates of the sampled alternatives: the whole log
    mpl = vm["marginal_pl"]
    w_star, logged, truth_pools = None, None, None
    if smk.params.truth_dir:
        truth = json.loads((Path(smk.params.truth_dir) / TRUTH_JSON).read_text(encoding="utf-8"))
        w_star = np.array([truth["value_weights"][h] for h in HEADS], dtype=float)
    settings = {**vm, "seed": seed, "device": str(device)}
    if vm["source"] == "truth":
        if not smk.params.truth_dir:
            raise ValueError("value_model.source: truth needs synthetic data (dataset: synthetic)")
        long = pq.read_table(Path(smk.params.truth_dir) / TRUTH_POOLS).to_pandas()
        pools = pools_from_long(subsample_long(long, vm["max_sessions"], seed), content, source=TRUTH_POOLS)
        make = truth_pool_variants(pools, popularity, seed)
        known = True
        truth_pools = pools
        settings["pools"] = "planted logging pools (truth)"
        from vmrec.value_model.scoring import blocked_pairs, held_out_sessions, truth_scorer

        held = held_out_sessions(sessions, list(vm["session_splits"]))
        sess = _subsample_sessions(held, vm["max_sessions"], seed)
        choices = session_choice_data(sess, views, truth_scorer(smk.params.truth_dir, sess),
                                      n_alternatives=mpl["alternatives"], pool_size=mpl["pool_size"],
                                      seed=seed, blocked=blocked_pairs(smk.input.small))
    else:
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

        metrics = {Path(p).stem: pd.read_csv(p) for p in smk.input.metrics}
        name = pick_model(metrics, vm["model"])
        model = load_model(Path(smk.input.models[0]).parents[1] / name / "model.pt")
        edges = pq.read_table(smk.input.edges, columns=["edge_id", "source", "csv_row", "date", "split"],
                              read_dictionary=["source", "split"]).to_pandas()
        splits = list(vm["session_splits"])
        if smk.params.truth_dir:  # the same heads on the policy's own pools (same splits): a reference
            truth_pools = pq.read_table(Path(smk.params.truth_dir) / TRUTH_POOLS).to_pandas()
            big_probs = pq.read_table(Path(smk.params.truth_dir) / TRUTH_BIG,
                                      columns=["csv_row", "session_id", "video_id"]).to_pandas()
            held = planted_sessions_in(truth_pools, big_probs, edges, splits)
            truth_pools = subsample_long(truth_pools[truth_pools["session_id"].isin(held)],
                                         vm["max_sessions"], seed)
            logged_long, logged_sess = logged_pool_frames(truth_pools, big_probs, edges)
            truth_pools = pools_from_long(truth_pools, source=TRUTH_POOLS)  # true probabilities
            del big_probs
        held = held_out_sessions(sessions, splits)
        sess = session_frame(_subsample_sessions(held, vm["max_sessions"], seed), edges)
        # candidates and their views come from every session, any split (dates only needed for day_active)
        sess_all = session_frame(sessions, edges) if vm["pool_candidates"] == "day_active" else sessions
        del edges
        blocked = blocked_pairs(smk.input.small)
        lookup = ItemFeatureLookup(pq.read_table(smk.input.item_features).to_pandas())
        ctx = first_view_context(sess, smk.input.edges, context_columns(model.feature_names))

        def make(factor: float, tilt: bool):
            long = draw_pools(sess, max(2, int(round(vm["pool_size"] * factor))), tilt, seed,
                              candidates=vm["pool_candidates"], include_shown=vm["pool_includes_shown"],
                              blocked=blocked, reference=sess_all)
            return pools_from_long(score_pools(long, sess, smk.input.edges, lookup, model, ctx=ctx), content)

        pools = make(1.0, vm["popularity_tilt"])
        choices = session_choice_data(
            sess, views, lambda long: score_pools(long, sess, smk.input.edges, lookup, model, ctx=ctx),
            n_alternatives=mpl["alternatives"], pool_size=mpl["pool_size"], seed=seed, blocked=blocked)
        if smk.params.truth_dir:
            logged = pools_from_long(score_pools(logged_long, logged_sess, smk.input.edges, lookup, model),
                                     all_content, source=TRUTH_POOLS)
        known = False
        settings["pools"] = f"drawn per session, scored by {name}; sessions of splits {splits}"
        settings["model_used"] = name
    log.info(
        "value model: %d sessions, mean pool %.1f, mean list %.1f",
        pools.n_sessions,
        pools.valid.sum(1).mean(),
        pools.length.mean(),
    )
    run_estimate(
        pools,
        vm=vm,
        seed=seed,
        device=device,
        settings=settings,
        out_json=smk.output.weights,
        out_sensitivity=smk.output.sensitivity,
        fig_slices=smk.output.fig_slices,
        fig_weights=smk.output.fig_weights,
        make_pools=make,
        w_star=w_star,
        pools_known=known,
        logged=logged,
        choices=choices,
        truth_pools=truth_pools,
    )


def _subsample_sessions(sessions: pd.DataFrame, max_sessions: int, seed: int) -> pd.DataFrame:
    """The rows of at most `max_sessions` sessions (drawn with `seed`), in their order."""
    keep = np.unique(sessions["session_id"])
    if len(keep) > max_sessions:
        keep = np.sort(np.random.default_rng(seed).choice(keep, max_sessions, replace=False))
    return sessions[sessions["session_id"].isin(keep)]


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

"""The value-model stage end to end (what the scripts estimate_weights, recovery_case and recovery call)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vmrec.config import ESTIMATOR_KEYS
from vmrec.contracts import HEADS
from vmrec.io import write_json, write_text
from vmrec.value_model.agreement import disagreement_warning, envelope_array, method_agreement
from vmrec.value_model.estimate import EmbeddingLoss, Objective, angle_deg, estimate_weights, unit
from vmrec.value_model.figures import loss_slices, recovery_plot, weights_plot
from vmrec.value_model.inputs import EstimateInputs
from vmrec.value_model.marginal_pl import angle_in_identified_subspace, fit_kwargs, fit_marginal_pl
from vmrec.value_model.plackett_luce import fit_plackett_luce, uniform_weights
from vmrec.value_model.recovery import (
    coverage,
    log_summary,
    pools_unknown_recovery,
    ranking_agreement,
    recovery_study,
    sensitivity_study,
)
from vmrec.value_model.simulator import Pools, Simulator, subsample_sessions

log = logging.getLogger("vmrec")


def estimate_kwargs(vm: dict, device) -> dict:
    """Estimator settings from the config's value_model section (or from a recovery case's settings,
    which hold the same keys)."""
    return {k: vm[k] for k in (*ESTIMATOR_KEYS, "restarts", "bootstrap")} | {"device": device}


METHODS = {"marginal_pl": "pool-marginal Plackett-Luce", "embedding": "embedding matching"}
"""value_model.method -> the name of the method in weights.json's `methods`."""


def marginal_kwargs(vm: dict) -> dict:
    """Settings of the pool-marginal Plackett-Luce fit from the config's value_model section."""
    return fit_kwargs(vm["marginal_pl"])


def _wdict(w: np.ndarray) -> dict[str, float]:
    return {h: float(v) for h, v in zip(HEADS, w, strict=True)}


def _ivdict(iv: np.ndarray | None) -> dict[str, list[float]] | None:
    return None if iv is None else {h: [float(a), float(b)] for h, (a, b) in zip(HEADS, iv, strict=True)}


@dataclass
class EstimateOutputs:
    """The files `run_estimate` writes."""

    weights: str | Path
    sensitivity: str | Path
    fig_slices: str | Path
    fig_weights: str | Path


def run_estimate(
    inputs: EstimateInputs, *, vm: dict, seed: int, device, out: EstimateOutputs, progress: bool = True
) -> dict:
    """Estimate w with every method the inputs allow, the references, diagnostics and sensitivity; write
    weights.json, sensitivity.csv and the figures. `inputs.pools_known`: the pools are the logging policy's
    own (Plackett-Luce applies). `inputs.logged`: the policy's own pools scored with the same heads
    (synthetic, source model): a reference that separates the error of the heads from that of the drawn
    pools. `inputs.choices`: the logged lists with sampled alternatives (the pool-marginal Plackett-Luce).
    `inputs.truth_pools`: held-out planted pools with the true probabilities (synthetic): the ranking
    agreement of each method's w with w* is measured on them."""
    pools, w_star, logged, truth_pools = inputs.pools, inputs.w_star, inputs.logged, inputs.truth_pools
    pools_known, settings = inputs.pools_known, inputs.settings
    pools = subsample_sessions(pools, vm["max_sessions"], seed)
    kw = estimate_kwargs(vm, device)
    est = estimate_weights(pools, seed=seed, progress=progress, **kw)
    methods: dict[str, dict] = {
        METHODS["embedding"]: {
            "w": est.weights_dict(), "intervals": _ivdict(est.intervals), "scale": est.scale,
            "scale_interval": list(est.scale_interval) if est.scale_interval else None, "loss": est.loss,
            "evaluations": est.evaluations, "restarts": est.restarts, "diagnostics": est.diagnostics,
            "n_sessions": est.n_sessions,
        }
    }
    if inputs.choices is not None:
        mpl = fit_marginal_pl(inputs.choices, seed=seed, progress=progress, **marginal_kwargs(vm))
        methods[METHODS["marginal_pl"]] = {
            "w": mpl.weights_dict(), "intervals": _ivdict(mpl.intervals), "scale": mpl.scale,
            "loglik": mpl.loglik, "diagnostics": mpl.diagnostics, "n_sessions": mpl.n_sessions,
            "n_choices": mpl.n_choices, "n_videos": mpl.n_videos, "seconds": round(mpl.seconds, 1),
        }
    default = METHODS[vm["method"]]
    if default not in methods:
        raise ValueError(f"value_model.method {vm['method']!r} needs its inputs (no sampled alternatives "
                         "were given)")
    chosen = methods[default]
    result: dict = {
        "method": default,
        "w_hat": chosen["w"],
        "intervals": chosen["intervals"],
        "scale": chosen["scale"],
        "n_sessions": chosen["n_sessions"],
        "diagnostics": chosen["diagnostics"],
        "methods": methods,
    }
    # the methods against each other: a bound on the error that needs no truth (value_model/agreement.py)
    agreement = method_agreement(methods)
    if agreement is not None:
        result["agreement"] = agreement
    w_default = np.array(list(chosen["w"].values()))
    iv_default = None if chosen["intervals"] is None else np.array(list(chosen["intervals"].values()))
    refs: dict = {"uniform": {"w": _wdict(uniform_weights())}}
    estimates = {name: (np.array(list(m["w"].values())),
                        None if m["intervals"] is None else np.array(list(m["intervals"].values())))
                 for name, m in methods.items()}
    if pools_known:
        pl = fit_plackett_luce(pools)
        refs["plackett_luce"] = {
            "w": _wdict(pl.w),
            "intervals": _ivdict(pl.intervals),
            "scale": pl.scale,
            "loglik": pl.loglik,
        }
        estimates["Plackett-Luce"] = (pl.w, pl.intervals)
    else:
        refs["plackett_luce"] = None
        refs["plackett_luce_note"] = "needs the logging policy's candidate pools (synthetic truth only)"
    if logged is not None:
        logged = subsample_sessions(logged, vm["max_sessions"], seed)
        est_l = estimate_weights(logged, seed=seed, progress=progress, **{**kw, "bootstrap": 0})
        pl_l = fit_plackett_luce(logged)
        refs["logged_pools"] = {"w": _wdict(est_l.w), "scale": est_l.scale, "loss": est_l.loss}
        refs["logged_pools_plackett_luce"] = {"w": _wdict(pl_l.w), "scale": pl_l.scale}
        refs["logged_pools_note"] = (
            "the same heads on the logging policy's own pools (synthetic truth), embedding matching and "
            "Plackett-Luce: the error left when the candidate pools are known")
        estimates["same heads, logged pools"] = (est_l.w, None)
        estimates["same heads, logged pools, Plackett-Luce"] = (pl_l.w, pl_l.intervals)
        if vm["embedding"] != "content" and logged.content is not None:
            # the lists described by what was shown instead of by the heads: the heads' error enters
            # through the ranking only (docs/value_model.md)
            est_c = estimate_weights(logged, seed=seed, progress=progress,
                                     **{**kw, "bootstrap": 0, "embedding": "content"})
            refs["logged_pools_content"] = {"w": _wdict(est_c.w), "scale": est_c.scale, "loss": est_c.loss}
            refs["logged_pools_note"] += (
                "; logged_pools_content: the same with the content embedding (the heads rank, the lists "
                "are embedded by their videos' content)")
            estimates["same heads, logged pools, content embedding"] = (est_c.w, None)
    _planted_head_references(inputs, refs, estimates, vm, seed, progress)
    result["reference"] = refs
    if w_star is not None:
        result["w_star"] = _wdict(unit(w_star))
        result["angle_error_deg"] = angle_deg(w_default, w_star)
        result["interval_coverage"] = coverage(iv_default, w_star)
        if agreement is not None:
            agreement["coverage_across_methods"] = coverage(envelope_array(agreement), w_star)
        for m in methods.values():
            w_m = np.array(list(m["w"].values()))
            iv_m = None if m["intervals"] is None else np.array(list(m["intervals"].values()))
            m["angle_error_deg"] = angle_deg(w_m, w_star)
            m["interval_coverage"] = coverage(iv_m, w_star)
            m["angle_identified_deg"] = angle_in_identified_subspace(
                w_m, w_star, m["diagnostics"].get("weak_directions", []))
            if truth_pools is not None:  # rankings on held-out planted pools, true probabilities
                m["kendall_tau"], m["top10_overlap"] = ranking_agreement(truth_pools, w_m, w_star)
        for ref in refs.values():
            if isinstance(ref, dict):
                ref["angle_error_deg"] = angle_deg(np.array(list(ref["w"].values())), w_star)
        log.info(
            "angle to planted w*: %s; references %s",
            {k: round(m["angle_error_deg"], 2) for k, m in methods.items()},
            {k: round(v["angle_error_deg"], 2) for k, v in refs.items() if isinstance(v, dict)},
        )
    result["weakly_identified"] = bool(chosen["diagnostics"].get("weakly_identified", False))
    warnings = []
    if result["weakly_identified"]:
        d = chosen["diagnostics"]
        warnings.append(
            f"weakly identified ({default}): " + (
                f"Jacobian rank {d['jacobian_rank']} of {len(HEADS)}, condition number "
                f"{d['condition_number']:.3g}" if "jacobian_rank" in d else
                f"bootstrap sd {max(d['direction_sd']):.3g} along "
                + ", ".join(f"{h} {v:+.2f}" for h, v in d["weakest_direction"].items())))
    if (text := disagreement_warning(agreement)) is not None:
        warnings.append(text)
    if warnings:
        result["warning"] = "; ".join(warnings)
        for text in warnings:
            log.warning("value model: %s", text)
    result["settings"] = settings
    # figures: loss around the optimum, weights
    sim = Simulator(pools, est_embedder(vm), seed=seed, device=device)
    obj = Objective(sim, EmbeddingLoss(sim.obs, kind=vm["loss"], seed=seed))
    loss_slices(obj.batch_w, est.w, est.scale, out.fig_slices, w_star=w_star)
    estimates["uniform (reference)"] = (uniform_weights(), None)
    title = "Value-model weights (unit vector, 95% intervals)"
    if w_star is not None:
        title += "\n" + "; ".join(f"{k} {m['angle_error_deg']:.1f} deg" for k, m in methods.items())
        title += " from w*"
        if pools_known:
            title += f"; Plackett-Luce {refs['plackett_luce']['angle_error_deg']:.1f} deg"
        if "logged_pools" in refs:
            title += (f"\nsame heads, logged pools: {refs['logged_pools']['angle_error_deg']:.1f} deg, "
                      f"Plackett-Luce {refs['logged_pools_plackett_luce']['angle_error_deg']:.1f}")
            if "logged_pools_content" in refs:
                title += f", content embedding {refs['logged_pools_content']['angle_error_deg']:.1f}"
    weights_plot(estimates, out.fig_weights, w_star=w_star, title=title)
    # sensitivity: pool size x0.5 / x2, popularity tilt on / off
    sens = sensitivity_study(
        lambda f, t: (lambda p: None if p is None else subsample_sessions(p, vm["max_sessions"], seed))(
            inputs.make_pools(f, t)
        ),
        base_tilt=vm["popularity_tilt"],
        w_base=est.w,
        scale_base=est.scale,
        w_star=w_star,
        estimate_kwargs=kw,
        max_evals=vm["evals_per_restart"],
        seed=seed,
        progress=progress,
    )
    write_text(sens.to_csv(index=False), out.sensitivity)
    write_json(json.loads(json.dumps(result, default=float)), out.weights)
    return result


PLANTED_HEAD_REFERENCES = {
    "true heads": ("true_heads", "the true heads (synthetic truth; source model)"),
    "platform heads": ("platform_heads", "the platform world's own heads, what its policy ranked on: w* is "
                                         "defined over them (the estimand)"),
}
"""reference_choices key -> (reference name prefix in weights.json, what the heads are)."""


def _planted_head_references(inputs: EstimateInputs, refs: dict, estimates: dict, vm: dict, seed: int,
                             progress: bool) -> None:
    """References with planted heads instead of the model's (synthetic): the pool-marginal Plackett-Luce
    on the same logged lists and alternatives (pools unknown; `<heads>_pool_marginal`) and Plackett-Luce
    on the policy's own pools (`<heads>_plackett_luce`). They split the estimate's error into the heads'
    and the estimator's; in the platform world the true heads' rows also carry the gap between the truth
    and the platform's heads that its policy ranked on. Without bootstrap (point estimates)."""
    notes = []
    pools_by_heads = {"platform heads": inputs.platform_pools}
    if not inputs.pools_known:
        pools_by_heads["true heads"] = inputs.truth_pools
    for key, (prefix, what) in PLANTED_HEAD_REFERENCES.items():
        choices, pools = inputs.reference_choices.get(key), pools_by_heads.get(key)
        if choices is not None:
            fit = fit_marginal_pl(choices, seed=seed, progress=progress,
                                  **{**marginal_kwargs(vm), "bootstrap": 0})
            refs[f"{prefix}_pool_marginal"] = {"w": fit.weights_dict(), "scale": fit.scale,
                                               "n_sessions": fit.n_sessions}
            estimates[f"{key}, pools unknown (pool-marginal PL)"] = (fit.w, None)
        if pools is not None:
            pl = fit_plackett_luce(pools)
            refs[f"{prefix}_plackett_luce"] = {"w": _wdict(pl.w), "scale": pl.scale}
            estimates[f"{key}, logged pools, Plackett-Luce"] = (pl.w, pl.intervals)
        if choices is not None or pools is not None:
            notes.append(f"{prefix}_*: {what}")
    if notes:
        refs["planted_heads_note"] = (
            "the same estimators with planted heads in place of the model's: *_pool_marginal on the same "
            "logged lists and alternatives (pools unknown), *_plackett_luce on the logging policy's own "
            "pools; " + "; ".join(notes))


def est_embedder(vm: dict):
    from vmrec.value_model.embeddings import ListEmbedder

    return ListEmbedder(vm["embedding"])


def run_recovery_case(
    pools: Pools, *, settings: dict, case: int, seed: int, device, out_csv: str | Path, progress: bool = True,
    long: pd.DataFrame | None = None, score=None, blocked: dict | None = None,
) -> pd.DataFrame:
    """One planted w* of the recovery study (every noise level) on the planted pools; writes its rows.
    With `long` (every planted pool, true heads) and `score` (true heads of any candidate), also the rows of
    the pools-unknown path (pool-marginal Plackett-Luce on lists re-drawn from every planted pool)."""
    table = recovery_study(
        pools,
        [settings["planted"]],
        settings["noise_levels"],
        estimate_kwargs=estimate_kwargs(settings, device),
        max_sessions=settings["max_sessions"],
        seed=seed,
        case_ids=[case],
        progress=progress,
    )
    if long is not None:
        m = settings["marginal"]
        unknown = pools_unknown_recovery(long, score, settings["planted"], settings["noise_levels"],
                                         case=case, seed=seed, max_sessions=m["max_sessions"], marginal=m,
                                         pools=subsample_sessions(pools, settings["max_sessions"], seed),
                                         blocked=blocked, progress=progress)
        table = pd.concat([table, unknown], ignore_index=True)
    write_text(table.to_csv(index=False), out_csv)
    return table


def gather_recovery(case_csvs: list[str | Path], out_csv: str | Path, fig: str | Path) -> pd.DataFrame:
    """The recovery study's table (the cases in order) and its figure, from the per-case tables."""
    table = pd.concat([pd.read_csv(p) for p in case_csvs], ignore_index=True)
    table = table.sort_values("case", kind="stable").reset_index(drop=True)
    log_summary(table)
    write_text(table.to_csv(index=False), out_csv)
    recovery_plot(table, fig)
    return table


def set_threads(threads: int) -> None:
    """Torch threads for the estimator (small tensors: more threads than cores only add contention)."""
    torch.set_num_threads(max(1, int(threads)))

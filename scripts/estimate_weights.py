"""Rule `estimate_weights`: logged sessions -> value-model weights (weights.json), sensitivity.csv, figures.

The inputs (pools drawn and scored by a model, or the planted ones) are built by
`vmrec.value_model.inputs`; the estimate by `vmrec.value_model.pipeline.run_estimate`."""

from pathlib import Path

from vmrec.device import resolve_device
from vmrec.io import setup_logging
from vmrec.value_model.inputs import EstimatePaths, estimate_inputs
from vmrec.value_model.pipeline import EstimateOutputs, run_estimate, set_threads


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    log = setup_logging(smk.log[0])
    set_threads(smk.threads)
    vm, seed = dict(smk.params.value_model), int(smk.params.seed)
    device = resolve_device(smk.params.device)
    paths = EstimatePaths(
        sessions=smk.input.sessions, tables_dir=Path(smk.input.big).parent, edges=smk.input.edges,
        item_features=smk.input.item_features, small=smk.input.small, truth_dir=smk.params.truth_dir or None,
        models=list(smk.input.get("models", [])), metrics=list(smk.input.get("metrics", [])),
    )
    inputs = estimate_inputs(vm, paths, seed=seed, device=device)
    pools = inputs.pools
    log.info("value model: %d sessions, mean pool %.1f, mean list %.1f",
             pools.n_sessions, pools.valid.sum(1).mean(), pools.length.mean())
    out = EstimateOutputs(weights=smk.output.weights, sensitivity=smk.output.sensitivity,
                          fig_slices=smk.output.fig_slices, fig_weights=smk.output.fig_weights)
    run_estimate(inputs, vm=vm, seed=seed, device=device, out=out)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

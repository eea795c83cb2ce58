"""Rule `recovery_case` (synthetic): one planted w* of the recovery study. Re-simulate the logged lists
from the planted pools under that w* at every logging noise level; how well embedding matching and
Plackett-Luce recover it (recovery/case_<n>.csv); and, pools unknown, the pool-marginal Plackett-Luce on
lists re-drawn from every planted pool with the true heads."""

from vmrec.device import resolve_device
from vmrec.io import setup_logging
from vmrec.value_model.inputs import recovery_case_inputs
from vmrec.value_model.pipeline import run_recovery_case, set_threads


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    setup_logging(smk.log[0])
    set_threads(smk.threads)
    settings, seed = dict(smk.params.settings), int(smk.params.seed)
    pools, long, score, blocked = recovery_case_inputs(settings, smk.input.truth, smk.input.big,
                                                      smk.input.small, seed)
    run_recovery_case(pools, settings=settings, case=int(smk.wildcards.case), seed=seed,
                      device=resolve_device(smk.params.device), out_csv=smk.output[0], long=long, score=score,
                      blocked=blocked)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

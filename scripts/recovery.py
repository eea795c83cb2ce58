"""Rule `recovery` (synthetic): re-simulate logged lists from the planted pools under several planted w*
and noise levels; how well embedding matching and Plackett-Luce recover w* (recovery.csv + figure)."""

from pathlib import Path

import pyarrow.parquet as pq

from vmrec.contracts import TRUTH_POOLS
from vmrec.device import resolve_device
from vmrec.io import setup_logging
from vmrec.value_model.pipeline import run_recovery, set_threads
from vmrec.value_model.simulator import pools_from_long, subsample_long


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    setup_logging(smk.log[0])
    set_threads(smk.threads)
    vm, seed = dict(smk.params.value_model), int(smk.params.seed)
    long = pq.read_table(Path(smk.input.truth) / TRUTH_POOLS).to_pandas()
    pools = pools_from_long(subsample_long(long, vm["recovery"]["max_sessions"], seed), source=TRUTH_POOLS)
    run_recovery(
        pools,
        vm=vm,
        seed=seed,
        device=resolve_device(smk.params.device),
        out_csv=smk.output.recovery,
        fig=smk.output.figure,
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

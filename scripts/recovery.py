"""Rule `recovery` (synthetic): gather the recovery study's cases (one job per planted w*, rule
`recovery_case`) into recovery.csv and its figure."""

from vmrec.io import setup_logging
from vmrec.value_model.pipeline import gather_recovery


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    setup_logging(smk.log[0])
    gather_recovery(list(smk.input.cases), smk.output.recovery, smk.output.figure)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

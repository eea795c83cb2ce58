"""Rule report_headline: the headline table (AUCs, off-policy bias, value-model weights and, on synthetic
data, the recovery study) for the HTML report."""

from vmrec.htmlreport import write_headline
from vmrec.io import setup_logging


def main(smk) -> None:
    setup_logging(smk.log[0])
    write_headline(
        smk.input.metrics[0] if smk.input.metrics else None,
        smk.input.weights[0] if smk.input.weights else None,
        smk.output.csv,
        smk.output.rst,
        dataset=smk.params.dataset,
        offpolicy_csv=smk.input.offpolicy[0] if smk.input.offpolicy else None,
        recovery_csv=smk.input.recovery[0] if smk.input.recovery else None,
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

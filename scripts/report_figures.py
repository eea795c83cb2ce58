"""Rule report_figures: gather the stages' figures and summary tables into the report's folders."""

from vmrec.htmlreport import gather
from vmrec.io import setup_logging


def main(smk) -> None:
    setup_logging(smk.log[0])
    gather(list(smk.input.figures), smk.output.figures)
    gather(list(smk.input.tables), smk.output.tables)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

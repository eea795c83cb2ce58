"""Rule seed_study: the seed study's summary (per seed), table (per headline number) and figure."""

from vmrec.io import setup_logging
from vmrec.seed_study import gather


def main(smk) -> None:
    setup_logging(smk.log[0])
    gather(smk.input.records, smk.output.summary, smk.output.table, smk.output.figure)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

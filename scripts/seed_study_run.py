"""Rule seed_run: the whole synthetic pipeline for one seed of the seed study, as a nested Snakemake."""

from vmrec.io import setup_logging
from vmrec.seed_study import run_seed


def main(smk) -> None:
    setup_logging(smk.log.run)
    run_seed(seed=smk.params.seed, snakefile=smk.input.snakefile, config_file=smk.input.config,
             marker=smk.output.record, snakemake_log=smk.log.snakemake, cores=smk.threads,
             mem_mb=smk.resources.mem_mb)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

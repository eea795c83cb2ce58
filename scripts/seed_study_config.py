"""Rule seed_config: the complete config file of one seed's run of the seed study (seed_study.smk)."""

from vmrec.io import setup_logging
from vmrec.seed_study import write_seed_config


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    cfg = smk.params.config
    write_seed_config(cfg, smk.output.config)
    log.info("seed %s: run %s, planted w* %s", cfg["synthetic"]["seed"], cfg["run_name"],
             cfg["synthetic"]["value_weights"])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

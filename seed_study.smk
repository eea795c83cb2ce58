"""Seed study: the whole synthetic pipeline once per data seed, each with its own planted w*.

    snakemake -s seed_study.smk -j2          # or: make seeds; on SLURM add --workflow-profile profiles/slurm

Settings: the `seed_study` section of the config (schemas/config.schema.yaml). Per seed N: rule seed_config
writes the run's complete config (results/seed_study/configs/seedN.yaml; results/seed_study-<world>/ for
another synthetic world), rule seed_run runs the main
Snakefile on it as a nested Snakemake (results/synthetic-<scale>-seedN/, data/raw/synthetic-<scale>-seedN/),
and rule seed_study gathers every run into results/seed_study/{summary.csv,table.csv,seed_study.png}.
Why nested runs and not Snakemake modules: src/vmrec/seed_study.py (module docstring).
"""

import os
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))
# Scripts (and the nested runs) import vmrec from this checkout, locally or on a cluster node.
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p))

from vmrec.config import validate_config
from vmrec.seed_study import seed_run_config, seeds, study_dir, workflow_sources
from vmrec.workflow_deps import code_deps


configfile: "config.yaml"


STUDY = validate_config(config)["seed_study"]
SEEDS = seeds(STUDY)
# Each seed's whole config, built (and validated) while the DAG is parsed: a bad value stops the study at once.
SEED_CONFIGS = {seed: seed_run_config(config, seed) for seed in SEEDS}
# results/seed_study, or results/seed_study-<world> for a study of another world (overrides)
S = study_dir(SEED_CONFIGS[SEEDS[0]])
CONDA_ENV = "envs/vmrec.yaml"
# Per seed, the whole DAG of one scale on `cores_per_seed` cores (README: ~4 min tiny, ~12 min small on 2).
RUN_MEM_MB = {"tiny": 6000, "small": 8000, "full": 32000}[STUDY["scale"]]
RUN_MINUTES = {"tiny": 60, "small": 180, "full": 720}[STUDY["scale"]]
GATHER_SCRIPT = "scripts/seed_study_gather.py"


wildcard_constraints:
    seed=r"\d+",


localrules:
    seed_study,
    seed_config,


def seed_config_of(wildcards):
    seed = int(wildcards.seed)
    if seed not in SEED_CONFIGS:
        raise ValueError(f"seed {seed} is not one of the study's seeds {SEEDS} (seed_study.first_seed, n_seeds)")
    return SEED_CONFIGS[seed]


rule seed_study:
    default_target: True
    input:
        records=expand(f"{S}/runs/seed{{seed}}.json", seed=SEEDS),
        code=code_deps(Path(workflow.basedir) / GATHER_SCRIPT, SRC),  # its imports within vmrec
    output:
        summary=f"{S}/summary.csv",
        table=f"{S}/table.csv",
        figure=f"{S}/seed_study.png",
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{S}/logs/seed_study.log",
    benchmark:
        f"{S}/benchmarks/seed_study.tsv"
    conda:
        CONDA_ENV
    script:
        GATHER_SCRIPT


# No code= input: the config is the params, computed with the current code while the DAG is parsed (a
# change of what seed_run_config builds reruns this through them); an edit of vmrec.seed_study alone must
# not rewrite every seed's config and so rerun every seed's nested Snakemake.
rule seed_config:
    output:
        config=f"{S}/configs/seed{{seed}}.yaml",
    params:
        config=seed_config_of,
    resources:
        mem_mb=500,
        runtime=5,
    log:
        f"{S}/logs/seed_config/seed{{seed}}.log",
    benchmark:
        f"{S}/benchmarks/seed_config/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    script:
        "scripts/seed_study_config.py"


rule seed_run:
    input:
        config=rules.seed_config.output.config,
        snakefile=Path(workflow.basedir) / "Snakefile",
        code=workflow_sources(workflow.basedir),
    output:
        record=f"{S}/runs/seed{{seed}}.json",
    params:
        seed=lambda wc: int(wc.seed),
    threads: STUDY["cores_per_seed"]
    resources:
        mem_mb=RUN_MEM_MB,
        runtime=RUN_MINUTES,
    log:
        run=f"{S}/logs/seed_run/seed{{seed}}.log",
        snakemake=f"{S}/logs/seed_run/seed{{seed}}.snakemake.log",
    benchmark:
        f"{S}/benchmarks/seed_run/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    script:
        "scripts/seed_study_run.py"

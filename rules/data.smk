# Raw KuaiRec (synthetic or real) -> typed Parquet tables.
SYNTHESIZE = script_and_code("synthesize")
INGEST = script_and_code("ingest")

if SYNTHETIC:

    rule synthesize:
        output:
            csv=list(RAW.values()),
            truth=directory(TRUTH_DIR),
        params:
            scale=config["scale"],
            synthetic=config["synthetic"],
        threads: SYNTHESIZE_THREADS
        resources:
            mem_mb=SYNTHESIZE_MEM_MB[(synthetic_world(config), config["scale"])],
            runtime=lambda wc: {"tiny": 5, "small": 10, "full": 30}[config["scale"]],
        log:
            f"{LOGS}/synthesize.log",
        benchmark:
            f"{BENCH}/synthesize.tsv"
        input:
            code=SYNTHESIZE.code,
        conda:
            CONDA_ENV
        script:
            SYNTHESIZE.path

else:

    rule download_kuairec:
        output:
            csv=list(RAW.values()),
        params:
            raw_dir=RAW_DIR,
        resources:
            mem_mb=2000,
            runtime=60,
        log:
            f"{LOGS}/download_kuairec.log",
        benchmark:
            f"{BENCH}/download_kuairec.tsv"
        # No code= input (script_and_code), on purpose: the outputs are the external release, the same
        # whatever the code; a code edit must not re-download 432 MB, overwrite files placed by hand,
        # and rerun everything downstream. The rule runs only when a CSV is missing.
        conda:
            CONDA_ENV
        script:
            "../scripts/download_kuairec.py"


rule ingest:
    input:
        csv=list(RAW.values()),
        code=INGEST.code,
    output:
        tables=list(TABLES.values()),
    params:
        duplicates=config["ingest"]["duplicates"],
    threads: 2
    resources:
        # measured peak RSS at full scale: ~2.2 GB (make bench); small scale: well under 1 GB
        mem_mb=lambda wc: 4000 if config["scale"] == "full" or not SYNTHETIC else 2000,
        runtime=30,
    log:
        f"{LOGS}/ingest.log",
    benchmark:
        f"{BENCH}/ingest.tsv"
    conda:
        CONDA_ENV
    script:
        INGEST.path


ALL_TARGETS.extend(TABLES.values())

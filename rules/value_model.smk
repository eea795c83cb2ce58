# Logged sessions -> value-model weights (embedding matching; Plackett-Luce reference on synthetic truth),
# the recovery study on planted truth (synthetic) and the sensitivity of the estimate to the pools.
VM = config["value_model"]
VM_DIR = f"{R}/value_model"
WEIGHTS = f"{VM_DIR}/weights.json"  # the estimate (rule estimate_weights; read by the report)
RECOVERY_CSV = f"{VM_DIR}/recovery.csv"  # the recovery study (rule recovery; read by the report)
SESSIONS = f"{R}/sessions/sessions.parquet"
SESSIONS_SCRIPT = script_and_code("sessions")
ESTIMATE = script_and_code("estimate_weights")


rule sessions:
    input:
        big=TABLES["big_matrix"],
        edges=EDGES,
        code=SESSIONS_SCRIPT.code,
    output:
        sessions=SESSIONS,
        lengths=f"{R}/sessions/lengths.csv",
        histogram=f"{R}/report/session_lengths.png",
    params:
        sessions=config["sessions"],
    resources:
        mem_mb=lambda wc: 8000 if config["scale"] == "full" or not SYNTHETIC else 2000,
        runtime=20,
    log:
        f"{LOGS}/sessions.log",
    benchmark:
        f"{BENCH}/sessions.tsv"
    conda:
        CONDA_ENV
    script:
        SESSIONS_SCRIPT.path


rule estimate_weights:
    input:
        unpack(value_model_inputs),
        sessions=SESSIONS,
        big=TABLES["big_matrix"],
        small=TABLES["small_matrix"],
        categories=TABLES["item_categories"],  # content features (content embeddings)
        edges=EDGES,
        item_features=ITEM_FEATURES,
        code=ESTIMATE.code,
    output:
        weights=WEIGHTS,
        sensitivity=f"{VM_DIR}/sensitivity.csv",
        fig_slices=f"{R}/report/value_model_loss_slices.png",
        fig_weights=f"{R}/report/value_model_weights.png",
    params:
        # the recovery study's settings are its own jobs' params: editing them does not rerun this
        value_model={k: v for k, v in VM.items() if k != "recovery"},
        seed=config["seed"],
        device=config["device"],
        truth_dir=TRUTH_DIR or "",
    # it runs alone at the end of the DAG (it waits for every model's metrics): small scale 88 s vs 118 s
    threads: 2
    resources:
        mem_mb=lambda wc: 6000 if config["scale"] == "full" or not SYNTHETIC else 3000,
        runtime=60,
        **GPU,  # scores with the models and estimates on config device
    log:
        f"{LOGS}/estimate_weights.log",
    benchmark:
        f"{BENCH}/estimate_weights.tsv"
    conda:
        CONDA_ENV
    script:
        ESTIMATE.path


ALL_TARGETS.extend(rules.estimate_weights.output)

if SYNTHETIC:
    # One job per planted w* (a cluster runs them side by side); its params are only the settings that
    # case uses, so adding a planted w* adds one job and editing the main estimate reruns none.
    RECOVERY_CASES = list(range(len(VM["recovery"]["planted"])))
    RECOVERY_CASE = script_and_code("recovery_case")
    RECOVERY = script_and_code("recovery")

    rule recovery_case:
        input:
            truth=TRUTH_DIR,
            big=TABLES["big_matrix"],  # content features; the sessions' start hours (pools-unknown path)
            categories=TABLES["item_categories"],
            small=TABLES["small_matrix"],  # pairs no pool holds (pools-unknown path)
            code=RECOVERY_CASE.code,
        output:
            f"{VM_DIR}/recovery/case_{{case}}.csv",
        wildcard_constraints:
            case=r"\d+",
        params:
            settings=lambda wc: recovery_settings(VM, int(wc.case)),
            seed=config["seed"],
            device=config["device"],
        threads: 1
        resources:
            mem_mb=3000,
            runtime=60,
            **GPU,  # estimates on config device
        log:
            f"{LOGS}/recovery/case_{{case}}.log",
        benchmark:
            f"{BENCH}/recovery/case_{{case}}.tsv"
        conda:
            CONDA_ENV
        script:
            RECOVERY_CASE.path

    rule recovery:
        input:
            cases=expand(f"{VM_DIR}/recovery/case_{{case}}.csv", case=RECOVERY_CASES),
            code=RECOVERY.code,
        output:
            recovery=RECOVERY_CSV,
            figure=f"{R}/report/value_model_recovery.png",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        log:
            f"{LOGS}/recovery.log",
        benchmark:
            f"{BENCH}/recovery.tsv"
        conda:
            CONDA_ENV
        script:
            RECOVERY.path

    ALL_TARGETS.extend(rules.recovery.output)

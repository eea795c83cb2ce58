# Logged sessions -> value-model weights (embedding matching; Plackett-Luce reference on synthetic truth),
# the recovery study on planted truth (synthetic) and the sensitivity of the estimate to the pools.
VM = config["value_model"]
VM_DIR = f"{R}/value_model"
SESSIONS = f"{R}/sessions/sessions.parquet"


rule sessions:
    input:
        big=TABLES["big_matrix"],
        edges=EDGES,
        code=code("sessions", "io", "contracts"),
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
    script:
        "../scripts/sessions.py"


rule estimate_weights:
    input:
        unpack(value_model_inputs),
        sessions=SESSIONS,
        big=TABLES["big_matrix"],
        small=TABLES["small_matrix"],
        edges=EDGES,
        item_features=ITEM_FEATURES,
        code=code(
            "value_model/__init__", "value_model/simulator", "value_model/embeddings", "value_model/estimate",
            "value_model/plackett_luce", "value_model/recovery", "value_model/figures",
            "value_model/pipeline", "value_model/scoring", "features", "models", "device", "io", "contracts",
        ),
    output:
        weights=f"{VM_DIR}/weights.json",
        sensitivity=f"{VM_DIR}/sensitivity.csv",
        fig_slices=f"{R}/report/value_model_loss_slices.png",
        fig_weights=f"{R}/report/value_model_weights.png",
    params:
        value_model=VM,
        seed=config["seed"],
        device=config["device"],
        truth_dir=TRUTH_DIR or "",
    # it runs alone at the end of the DAG (it waits for every model's metrics): small scale 88 s vs 118 s
    threads: 2
    resources:
        mem_mb=lambda wc: 6000 if config["scale"] == "full" or not SYNTHETIC else 3000,
        runtime=60,
    log:
        f"{LOGS}/estimate_weights.log",
    benchmark:
        f"{BENCH}/estimate_weights.tsv"
    script:
        "../scripts/estimate_weights.py"


ALL_TARGETS.extend(rules.estimate_weights.output)

if SYNTHETIC:

    rule recovery:
        input:
            truth=TRUTH_DIR,
            code=code(
                "value_model/__init__", "value_model/simulator", "value_model/embeddings",
                "value_model/estimate", "value_model/plackett_luce", "value_model/recovery",
                "value_model/figures", "value_model/pipeline", "device", "io", "contracts",
            ),
        output:
            recovery=f"{VM_DIR}/recovery.csv",
            figure=f"{R}/report/value_model_recovery.png",
        params:
            value_model=VM,
            seed=config["seed"],
            device=config["device"],
        threads: 1
        resources:
            mem_mb=3000,
            runtime=120,
        log:
            f"{LOGS}/recovery.log",
        benchmark:
            f"{BENCH}/recovery.tsv"
        script:
            "../scripts/recovery.py"

    ALL_TARGETS.extend(rules.recovery.output)

# Owned by the evaluate stage; see contracts.py for the layout.
# Per-model metrics with bootstrap intervals, reference rows, and the aggregate model report.

REFERENCES = ["duration_baseline", "oracle"] if SYNTHETIC else ["duration_baseline"]
EVALUATE = script_and_code("evaluate")
EVALUATE_REFERENCE = script_and_code("evaluate_reference")
MODEL_REPORT_SCRIPT = script_and_code("model_report")
MODEL_REPORT = {
    "metrics": f"{R}/report/metrics.csv",
    "paired": f"{R}/report/paired.csv",  # every model against the best non-graph one, paired bootstrap
    "auc": f"{R}/report/auc_by_head.png",
    "roc": f"{R}/report/roc_curves.png",
    "calibration": f"{R}/report/calibration.png",
    "curves": f"{R}/report/training_curves.png",
}


rule evaluate:
    input:
        predictions=f"{R}/models/{{model}}/predictions.parquet",
        edges=EDGES,
        code=EVALUATE.code,
    output:
        metrics=f"{R}/metrics/{{model}}.csv",
    params:
        model=lambda wc: wc.model,
        bootstrap=config["evaluate"]["bootstrap"],
        splits=config["evaluate"]["splits"],
        seed=config["seed"],
    resources:
        mem_mb=lambda wc: 16000 if config["scale"] == "full" or not SYNTHETIC else 2000,
        runtime=30,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/evaluate/{{model}}.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}.tsv"
    conda:
        CONDA_ENV
    script:
        EVALUATE.path


rule evaluate_reference:
    input:
        edges=EDGES,
        truth=[TRUTH_DIR] if SYNTHETIC else [],
        code=EVALUATE_REFERENCE.code,
    output:
        **{f"{r}_metrics": f"{R}/metrics/{r}.csv" for r in REFERENCES},
        **{f"{r}_predictions": f"{R}/models/{r}/predictions.parquet" for r in REFERENCES},
    params:
        labels=config["labels"],
        bootstrap=config["evaluate"]["bootstrap"],
        splits=config["evaluate"]["splits"],
        seed=config["seed"],
    resources:
        mem_mb=lambda wc: 16000 if config["scale"] == "full" or not SYNTHETIC else 2000,
        runtime=30,
    log:
        f"{LOGS}/evaluate/references.log",
    benchmark:
        f"{BENCH}/evaluate/references.tsv"
    conda:
        CONDA_ENV
    script:
        EVALUATE_REFERENCE.path


rule model_report:
    input:
        metrics=expand(f"{R}/metrics/{{m}}.csv", m=MODELS + REFERENCES),
        predictions=expand(f"{R}/models/{{m}}/predictions.parquet", m=MODELS + REFERENCES),
        curves=expand(f"{R}/models/{{m}}/curve.csv", m=MODELS),
        edges=EDGES,
        code=MODEL_REPORT_SCRIPT.code,
    output:
        **MODEL_REPORT,
    params:
        figure_split=config["evaluate"]["figure_split"],
        bootstrap=config["evaluate"]["bootstrap"],
        splits=config["evaluate"]["splits"],
        seed=config["seed"],
    resources:
        mem_mb=lambda wc: 16000 if config["scale"] == "full" or not SYNTHETIC else 3000,
        runtime=20,
    log:
        f"{LOGS}/model_report.log",
    benchmark:
        f"{BENCH}/model_report.tsv"
    conda:
        CONDA_ENV
    script:
        MODEL_REPORT_SCRIPT.path


ALL_TARGETS.extend(MODEL_REPORT.values())


# --- off-policy evaluation (synthetic): every model's heads on the policy's own pools ------------------
EVALUATE_POOLS = script_and_code("evaluate_pools")
OFFPOLICY_REPORT = script_and_code("offpolicy_report")
OFFPOLICY = {
    "table": f"{R}/report/offpolicy.csv",
    "figure": f"{R}/report/offpolicy_bias.png",
    # every model against the best non-graph model on the same candidates: paired |bias| differences
    "paired": f"{R}/report/offpolicy_paired.csv",
}
POOL_MODELS = MODELS  # every trained model has a checkpoint (rule train)
DO_OFFPOLICY = SYNTHETIC and config["evaluate"]["pool_sessions"] > 0 and bool(POOL_MODELS)


localrules:
    offpolicy_report,


rule evaluate_pools:
    input:
        model=f"{R}/models/{{model}}/model.pt",
        edges=EDGES,
        item_features=ITEM_FEATURES,
        truth=[TRUTH_DIR] if SYNTHETIC else [],
        code=EVALUATE_POOLS.code,
    output:
        table=f"{R}/metrics/offpolicy/{{model}}.csv",
        scored=f"{R}/metrics/offpolicy/{{model}}_pools.parquet",
    params:
        model=lambda wc: wc.model,
        sessions=config["evaluate"]["pool_sessions"],
        bootstrap=config["evaluate"]["bootstrap"],
        seed=config["seed"],
    resources:
        mem_mb=lambda wc: 16000 if config["scale"] == "full" else 3000,
        runtime=30,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/evaluate_pools/{{model}}.log",
    benchmark:
        f"{BENCH}/evaluate_pools/{{model}}.tsv"
    conda:
        CONDA_ENV
    script:
        EVALUATE_POOLS.path


rule offpolicy_report:
    input:
        tables=expand(f"{R}/metrics/offpolicy/{{m}}.csv", m=POOL_MODELS),
        scored=expand(f"{R}/metrics/offpolicy/{{m}}_pools.parquet", m=POOL_MODELS),
        metrics=expand(f"{R}/metrics/{{m}}.csv", m=POOL_MODELS),
        code=OFFPOLICY_REPORT.code,
    output:
        **OFFPOLICY,
    params:
        models=POOL_MODELS,
        bootstrap=config["evaluate"]["bootstrap"],
        seed=config["seed"],
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{LOGS}/offpolicy_report.log",
    benchmark:
        f"{BENCH}/offpolicy_report.tsv"
    conda:
        CONDA_ENV
    script:
        OFFPOLICY_REPORT.path


if DO_OFFPOLICY:
    ALL_TARGETS.extend(OFFPOLICY.values())

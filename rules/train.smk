# Owned by the train stage; see contracts.py for the layout.
# Sweeps (one job per model x lr x batch size) -> select (best.json) -> full training per model.
# Params, cost, priority and GPU use are per model (vmrec.registry), so adding a hidden size adds jobs for
# that model only.

MODELS = model_names(config["models"])
SWEEP = script_and_code("sweep")
SELECT = script_and_code("select_sweep_point")
TRAIN = script_and_code("train")


# Cheap: run on the host that runs Snakemake, never as a cluster job.
localrules:
    select,


rule sweep:
    input:
        graph=GRAPH,
        code=SWEEP.code,
    output:
        f"{R}/sweep/{{model}}/lr{{lr}}_bs{{bs}}.json",
    params:
        model=model_params,
        lr=lambda wc: float(wc.lr),
        batch_size=lambda wc: int(wc.bs),
        subset_frac=config["sweep"]["subset_frac"],
        epochs=config["sweep"]["epochs"],
        patience=config["models"]["patience"],
        eval_batch_size=config["models"]["eval_batch_size"],
        seed=config["seed"],
        device=model_device_of,
    # full-size data: a sweep point is a full-graph job that uses both cores (and ~10 GB): one at a time
    threads: model_cost("sweep", "threads")
    resources:
        mem_mb=model_cost("sweep", "mem_mb"),
        runtime=model_cost("sweep", "runtime"),
        **MODEL_GPU,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/sweep/{{model}}/lr{{lr}}_bs{{bs}}.log",
    benchmark:
        f"{BENCH}/sweep/{{model}}/lr{{lr}}_bs{{bs}}.tsv"
    conda:
        CONDA_ENV
    script:
        SWEEP.path


rule select:
    input:
        points=sweep_points,
        code=SELECT.code,
    output:
        best=f"{R}/sweep/{{model}}/best.json",
    resources:
        mem_mb=500,
        runtime=5,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/select/{{model}}.log",
    benchmark:
        f"{BENCH}/select/{{model}}.tsv"
    conda:
        CONDA_ENV
    script:
        SELECT.path


rule train:
    input:
        graph=GRAPH,
        best=f"{R}/sweep/{{model}}/best.json",
        code=TRAIN.code,
    output:
        model=f"{R}/models/{{model}}/model.pt",
        curve=f"{R}/models/{{model}}/curve.csv",
        predictions=f"{R}/models/{{model}}/predictions.parquet",
    params:
        model=model_params,
        epochs=config["models"]["epochs"],
        patience=config["models"]["patience"],
        eval_batch_size=config["models"]["eval_batch_size"],
        seed=config["seed"],
        device=model_device_of,
    threads: model_cost("train", "threads")
    resources:
        mem_mb=model_cost("train", "mem_mb"),
        runtime=model_cost("train", "runtime"),
        **MODEL_GPU,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/train/{{model}}.log",
    benchmark:
        f"{BENCH}/train/{{model}}.tsv"
    conda:
        CONDA_ENV
    script:
        TRAIN.path


ALL_TARGETS.extend(expand(f"{R}/models/{{model}}/model.pt", model=MODELS))

# Owned by the train stage; see contracts.py for the layout.
# Sweeps (one job per model x lr x batch size) -> select (best.json) -> full training per model.
# Params are per model, so adding a hidden size adds jobs for that model only.

from vmrec.config import model_names, model_priority

MODELS = model_names(config["models"])
TRAIN_CODE = code("models", "train", "graph", "metrics", "device", "io", "contracts")
_MODEL_CPU = is_full_size(config)  # the real KuaiRec size: full-graph jobs need ~10 GB


rule sweep:
    input:
        graph=GRAPH,
        code=TRAIN_CODE,
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
        device=config["device"],
    # full-size data: a sweep point is a full-graph job that uses both cores (and ~10 GB): one at a time
    threads: 2 if _MODEL_CPU else 1
    resources:
        mem_mb=lambda wc: 16000 if _MODEL_CPU else 2000,
        runtime=lambda wc: 120 if _MODEL_CPU else 15,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/sweep/{{model}}/lr{{lr}}_bs{{bs}}.log",
    benchmark:
        f"{BENCH}/sweep/{{model}}/lr{{lr}}_bs{{bs}}.tsv"
    script:
        "../scripts/sweep.py"


rule select:
    input:
        points=sweep_points,
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
    script:
        "../scripts/select_sweep_point.py"


rule train:
    input:
        graph=GRAPH,
        best=f"{R}/sweep/{{model}}/best.json",
        code=TRAIN_CODE,
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
        device=config["device"],
    threads: 2
    resources:
        mem_mb=lambda wc: 24000 if _MODEL_CPU else 3000,
        runtime=lambda wc: 600 if _MODEL_CPU else 30,
    priority: lambda wc: model_priority(wc.model)
    log:
        f"{LOGS}/train/{{model}}.log",
    benchmark:
        f"{BENCH}/train/{{model}}.tsv"
    script:
        "../scripts/train.py"


ALL_TARGETS.extend(expand(f"{R}/models/{{model}}/model.pt", model=MODELS))

# Config validation, paths and helpers shared by every rule file.
# Paths are owned here; each stage's rule file adds its final outputs to ALL_TARGETS.
import os
import sys
from pathlib import Path
from typing import NamedTuple

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))
# Scripts run in their own Python processes (locally or on a cluster node): let them import vmrec too.
# (Set here, not read: nothing for the envvars directive to assert.)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p))

from vmrec.config import dataset_name, is_full_size, recovery_settings, synthetic_world, validate_config
from vmrec.contracts import RAW_FILES, RAW_SUBDIR, SYNTHESIZE_MEM_MB, SYNTHESIZE_THREADS
from vmrec.registry import (
    MODEL_NAME_PATTERN,
    job_cost,
    model_device,
    model_gpus,
    model_names,
    model_priority,
    sweep_batch_sizes,
)
from vmrec.registry import model_params as _model_params
from vmrec.workflow_deps import code_deps

config.update(validate_config(config))

DATASET = dataset_name(config)
SYNTHETIC = config["dataset"] == "synthetic"
R = f"results/{DATASET}"
LOGS = f"{R}/logs"
BENCH = f"{R}/benchmarks"
if SYNTHETIC:
    RAW_ROOT = f"data/raw/{DATASET}"
    RAW_DIR = f"{RAW_ROOT}/{RAW_SUBDIR}"
    TRUTH_DIR = f"{RAW_ROOT}/truth"
else:
    RAW_DIR = config["kuairec_dir"].rstrip("/")
    TRUTH_DIR = None
RAW = {Path(f).stem: f"{RAW_DIR}/{f}" for f in RAW_FILES}
TABLES = {stem: f"{R}/tables/{stem}.parquet" for stem in RAW}
EDGES = f"{R}/features/edges.parquet"
ITEM_FEATURES = f"{R}/features/item_features.parquet"

ALL_TARGETS = []


class Script(NamedTuple):
    """A rule's script and the vmrec modules it imports (its `code=` input: editing one reruns the rule)."""

    path: str  # as the `script:` directive of a rule file under rules/ takes it
    code: list[str]


def script_and_code(name):
    """scripts/<name>.py and its import closure within vmrec (vmrec.workflow_deps), derived from one name
    so that a rule's script and its code dependencies cannot disagree."""
    return Script(f"../scripts/{name}.py", code_deps(Path(workflow.basedir) / "scripts" / f"{name}.py", SRC))


# --- deployment: every rule that runs code uses this conda env (relative to rules/, for `--sdm conda`);
# rules that run torch on config `device` ask for a GPU under device: cuda (the SLURM plugin turns gpu=1
# into --gpus=1; --set-resources <rule>:gpu=N wins), and for none otherwise (no gpu key at all).
CONDA_ENV = "../envs/vmrec.yaml"
CUDA = config["device"] == "cuda"
GPU = {"gpu": 1} if CUDA else {}
# per model: the family's GPU use (vmrec.registry)
MODEL_GPU = {"gpu": lambda wc: model_gpus(wc.model, config["device"])} if CUDA else {}
FULL_SIZE = is_full_size(config)  # the real KuaiRec size: full-graph model jobs need ~10 GB


wildcard_constraints:
    model=MODEL_NAME_PATTERN,  # the model-name grammar: owned by vmrec.registry
    lr=r"[0-9.e-]+",
    bs=r"\d+",


# --- input and params functions of the stage rules (called while the DAG is built) ---------------------
def model_params(wildcards):
    """The config values one model reads (nothing of the other models): its family's keys (vmrec.registry)."""
    return _model_params(wildcards.model, config["models"])


def model_cost(job, what):
    """Per model: `what` (threads, mem_mb or runtime) of its `job` (sweep or train) jobs (vmrec.registry)."""
    return lambda wc: getattr(job_cost(wc.model, job, FULL_SIZE), what)


def model_device_of(wildcards):
    """The device a model's jobs run on (config `device`, or cpu for a family that uses no GPU)."""
    return model_device(wildcards.model, config["device"])


def sweep_points(wildcards):
    sw = config["sweep"]
    return expand(
        f"{R}/sweep/{wildcards.model}/lr{{lr}}_bs{{bs}}.json",
        lr=[f"{lr:g}" for lr in sw["lr"]],
        bs=sweep_batch_sizes(wildcards.model, sw),
    )


def value_model_inputs(wildcards):
    """Scoring inputs of estimate_weights: the models (source: model) or nothing extra (source: truth)."""
    vm = config["value_model"]
    if vm["source"] == "truth":
        return {}
    names = model_names(config["models"]) if vm["model"] == "best" else [vm["model"]]
    return {
        "models": [f"{R}/models/{m}/model.pt" for m in names],
        "metrics": [f"{R}/metrics/{m}.csv" for m in names],
    }

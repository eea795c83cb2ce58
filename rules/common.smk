# Config validation, paths and helpers shared by every rule file.
# Paths are owned here; each stage's rule file adds its final outputs to ALL_TARGETS.
import os
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))
# Scripts run in their own Python processes (locally or on a cluster node): let them import vmrec too.
# (Set here, not read: nothing for the envvars directive to assert.)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p))

from vmrec.config import MODEL_NAME_PATTERN, dataset_name, is_full_size, recovery_settings, validate_config
from vmrec.contracts import RAW_FILES, RAW_SUBDIR

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


def code(*modules):
    """The vmrec modules that a rule imports (editing one reruns the rule)."""
    return [str(SRC / "vmrec" / f"{m}.py") for m in modules]


wildcard_constraints:
    model=MODEL_NAME_PATTERN,  # the model-name grammar: owned by vmrec.config
    lr=r"[0-9.e-]+",
    bs=r"\d+",


# --- input and params functions of the stage rules (called while the DAG is built) ---------------------
def model_params(wildcards):
    """The config values one model reads (nothing of the other models)."""
    m = config["models"]
    p = {"name": wildcards.model, "head_weights": m["head_weights"]}
    if wildcards.model != "logreg":
        p["mlp_hidden"] = m["mlp_hidden"]
    if wildcards.model.startswith(("mf_h", "gnn_h")):
        p["emb_l2"] = m["emb_l2"]
    if wildcards.model.startswith("lightgcn_h"):
        p["emb_l2"] = m["lightgcn_l2"]  # on the id embeddings (layer 0) only
        p["lightgcn_layers"] = m["lightgcn_layers"]
    if wildcards.model.startswith("gnn_h"):
        p["gnn_layers"] = m["gnn_layers"]
    return p


def sweep_points(wildcards):
    sw = config["sweep"]
    lightgcn = wildcards.model.startswith("lightgcn_h") and sw.get("lightgcn_batch_size")
    return expand(
        f"{R}/sweep/{wildcards.model}/lr{{lr}}_bs{{bs}}.json",
        lr=[f"{lr:g}" for lr in sw["lr"]],
        bs=sw["lightgcn_batch_size"] if lightgcn else sw["batch_size"],
    )


def value_model_inputs(wildcards):
    """Scoring inputs of estimate_weights: the models (source: model) or nothing extra (source: truth)."""
    vm = config["value_model"]
    if vm["source"] == "truth":
        return {}
    from vmrec.config import model_names

    names = model_names(config["models"]) if vm["model"] == "best" else [vm["model"]]
    return {
        "models": [f"{R}/models/{m}/model.pt" for m in names],
        "metrics": [f"{R}/metrics/{m}.csv" for m in names],
    }

"""The model registry: one entry per model family, the only place that knows the families.

Owner of the model interface: vmrec.registry. Each `Family` says, once:
  - its name grammar: a fixed name (`logreg`) or one model `<family>_h<d>` per entry of a `models` key;
  - the config keys its jobs read (`model_params`: the Snakemake params of its sweep and train jobs, so a
    key a family does not read never reruns its jobs), and the sweep key that replaces `sweep.batch_size`;
  - how it is built (`layers_key`, embeddings, graph propagation; vmrec.models builds the network);
  - the cost of its jobs (threads, memory, minutes of a sweep point and of a training, on small and on
    full-size data) and its scheduling priority;
  - whether its jobs use the GPU when the config asks for one (device: cuda).
vmrec.config (model names, priority), vmrec.models (construction) and the rule files (the `model`
wildcard, params, resources, priority, GPU requests) read it; nothing else matches model names.

Adding a model family is one entry here plus its encoder in vmrec.models (and its config keys in
schemas/config.schema.yaml). Which families run at full size is config (the `full_size` section), not
registry: e.g. the default drops LightGCN there by setting `lightgcn_dims: []`.

Light on purpose (no torch): the Snakefile imports it while it parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class JobCost:
    """What one job asks of the scheduler (Snakemake threads and resources)."""

    threads: int
    mem_mb: int
    runtime: int  # minutes


# Today's numbers, the same for every family. Full-size data (vmrec.config.is_full_size): every sweep
# point and training is a full-graph job (~10 GB); a sweep point uses both cores there, one at a time.
# Keyed by full size (False: tiny and small synthetic data).
SWEEP_COST = {False: JobCost(threads=1, mem_mb=2000, runtime=15),
              True: JobCost(threads=2, mem_mb=16000, runtime=120)}
TRAIN_COST = {False: JobCost(threads=2, mem_mb=3000, runtime=30),
              True: JobCost(threads=2, mem_mb=24000, runtime=600)}


@dataclass(frozen=True)
class Family:
    """One model family (ModelSpec.kind is its `name`)."""

    name: str
    # None: one model named `name`; else one model `<name>_h<d>` per entry d of models.<sizes_key>
    sizes_key: str | None
    # (param, models key) pairs read after `name`, in order: the model's params dict (model_params)
    reads: tuple[tuple[str, str], ...]
    priority: int  # base of model_priority: the costlier the family, the higher
    layers_key: str | None = None  # param holding the propagation layers (ModelSpec.gnn_layers)
    sweep_batch_key: str | None = None  # sweep.<key>, when set (not null), replaces sweep.batch_size
    embeddings: bool = False  # learns user and video embeddings (checkpoints store them)
    graph: bool = False  # propagates over a graph view (full-graph; not a candidate "non-graph" baseline)
    gpu: bool = True  # its jobs run on config `device` and ask for a GPU under device: cuda
    target_share: bool = False  # supervised on the newest models.target_frac of train (labelled messages)
    sweep_cost: dict[bool, JobCost] | None = None  # by full size; None: SWEEP_COST
    train_cost: dict[bool, JobCost] | None = None  # by full size; None: TRAIN_COST

    @property
    def pattern(self) -> str:
        """Regex of the family's model names."""
        return rf"{self.name}_h\d+" if self.sizes_key else re.escape(self.name)

    def names(self, models_cfg: dict) -> list[str]:
        """The family's models in the config's `models` section."""
        if self.sizes_key is None:
            return [self.name]
        return [f"{self.name}_h{d}" for d in models_cfg.get(self.sizes_key) or []]


_HEAD = (("head_weights", "head_weights"),)
_MLP = (("mlp_hidden", "mlp_hidden"),)

# In model_names order: the order of the models in every list, table and figure.
FAMILIES: tuple[Family, ...] = (
    Family("logreg", None, _HEAD, priority=0),
    Family("edge_mlp", None, _HEAD + _MLP, priority=1),
    Family("mf", "mf_dims", _HEAD + _MLP + (("emb_l2", "emb_l2"),), priority=2, embeddings=True),
    Family("lightgcn", "lightgcn_dims",
           # emb_l2 on the id embeddings (layer 0) only
           _HEAD + _MLP + (("emb_l2", "lightgcn_l2"), ("lightgcn_layers", "lightgcn_layers")),
           priority=3, layers_key="lightgcn_layers", sweep_batch_key="lightgcn_batch_size",
           embeddings=True, graph=True),
    Family("gnn", "hidden_dims", _HEAD + _MLP + (("emb_l2", "emb_l2"), ("gnn_layers", "gnn_layers")),
           priority=4, layers_key="gnn_layers", embeddings=True, graph=True, target_share=True),
)
BY_NAME = {f.name: f for f in FAMILIES}

# The model-name grammar: constrains the `model` wildcard of the rule files.
MODEL_NAME_PATTERN = "|".join(f.pattern for f in FAMILIES)
_PATTERNS = [(re.compile(f.pattern), f) for f in FAMILIES]


def family_of(name: str) -> Family:
    """The family of model `name`; ValueError for a name no family's grammar matches."""
    for pattern, family in _PATTERNS:
        if pattern.fullmatch(name):
            return family
    expected = ", ".join(f"{f.name}_h<dim>" if f.sizes_key else f.name for f in FAMILIES)
    raise ValueError(f"unknown model name {name!r}; expected one of {expected}")


def hidden_dim(name: str) -> int:
    """The size d of a model `<family>_h<d>` (0 for a fixed-name model)."""
    return int(name.rsplit("_h", 1)[1]) if family_of(name).sizes_key else 0


def model_names(models_cfg: dict) -> list[str]:
    """Every model of the config's `models` section, family by family in registry order."""
    return [n for f in FAMILIES for n in f.names(models_cfg)]


def model_params(name: str, models_cfg: dict) -> dict:
    """The config values model `name` reads (nothing of the other models): its sweep and train params."""
    return {"name": name, **{param: models_cfg[key] for param, key in family_of(name).reads}}


def model_priority(name: str) -> int:
    """Snakemake priority of a model's sweep, select, train and evaluate jobs: the costlier the model, the
    earlier its jobs start among those ready (longest first: the GNNs' chain is the longest of the DAG)."""
    return family_of(name).priority * 16 + hidden_dim(name).bit_length()


def is_graph_model(name: str) -> bool:
    """Whether model `name` propagates over a graph."""
    return family_of(name).graph


def sweep_batch_sizes(name: str, sweep_cfg: dict) -> list[int]:
    """The batch sizes of model `name`'s sweep points."""
    key = family_of(name).sweep_batch_key
    return sweep_cfg[key] if key and sweep_cfg.get(key) else sweep_cfg["batch_size"]


def job_cost(name: str, job: str, full_size: bool) -> JobCost:
    """Threads and resources of model `name`'s `job` (sweep or train) on small or full-size data."""
    family = family_of(name)
    costs = {"sweep": family.sweep_cost or SWEEP_COST, "train": family.train_cost or TRAIN_COST}[job]
    return costs[bool(full_size)]


def model_device(name: str, device: str) -> str:
    """The device model `name`'s jobs run on: the config's, or cpu for a family that uses no GPU."""
    return device if family_of(name).gpu else "cpu"


def model_gpus(name: str, device: str) -> int:
    """GPUs a job of model `name` asks for (Snakemake resource gpu) under config `device`."""
    return int(model_device(name, device) == "cuda")

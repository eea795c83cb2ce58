"""The model registry (vmrec.registry): one entry per family gives the names, the params, the priority,
the job cost and the GPU use; the values are the ones the rule files wrote out by hand before (params are
rerun triggers: a different dict would rerun every model)."""

from __future__ import annotations

import re

import pytest

from vmrec.config import validate_config
from vmrec.registry import (
    FAMILIES,
    MODEL_NAME_PATTERN,
    family_of,
    is_graph_model,
    job_cost,
    model_gpus,
    model_names,
    model_params,
    model_priority,
    sweep_batch_sizes,
)

HW, MLP = {"y_complete": 1.0}, [64, 32]
MODELS = {"hidden_dims": [16, 64], "mf_dims": [64], "lightgcn_dims": [32], "head_weights": HW,
          "mlp_hidden": [64, 32], "emb_l2": 0.01, "lightgcn_l2": 0.003, "lightgcn_layers": 2, "gnn_layers": 3}


def test_names_in_the_order_of_before():
    assert model_names(MODELS) == ["logreg", "edge_mlp", "mf_h64", "lightgcn_h32", "gnn_h16", "gnn_h64"]
    assert model_names(validate_config({})["models"]) == ["logreg", "edge_mlp", "mf_h64", "lightgcn_h64",
                                                          "gnn_h16"]
    full = validate_config({"scale": "full"})["models"]
    assert model_names(full) == ["logreg", "edge_mlp", "mf_h64", "gnn_h64"]  # full_size drops LightGCN


def test_params_are_the_dicts_of_before_key_order_included():
    """model_params is what rules/common.smk built by hand (repr, so key order, is the rerun trigger)."""
    expected = {
        "logreg": {"name": "logreg", "head_weights": HW},
        "edge_mlp": {"name": "edge_mlp", "head_weights": HW, "mlp_hidden": MLP},
        "mf_h64": {"name": "mf_h64", "head_weights": HW, "mlp_hidden": MLP, "emb_l2": 0.01},
        "lightgcn_h32": {"name": "lightgcn_h32", "head_weights": HW, "mlp_hidden": MLP, "emb_l2": 0.003,
                         "lightgcn_layers": 2},
        "gnn_h16": {"name": "gnn_h16", "head_weights": HW, "mlp_hidden": MLP, "emb_l2": 0.01,
                    "gnn_layers": 3},
    }
    for name, params in expected.items():
        assert repr(model_params(name, MODELS)) == repr(params), name


def test_priority_batch_sizes_cost_and_gpu_of_before():
    old = {"logreg": 0, "edge_mlp": 16, "mf_h64": 39, "lightgcn_h64": 55, "gnn_h16": 69, "gnn_h128": 72}
    assert {m: model_priority(m) for m in old} == old
    sweep = {"batch_size": [2048, 8192], "lightgcn_batch_size": [8192]}
    assert sweep_batch_sizes("lightgcn_h64", sweep) == [8192]
    assert sweep_batch_sizes("gnn_h16", sweep) == [2048, 8192]
    assert sweep_batch_sizes("lightgcn_h64", sweep | {"lightgcn_batch_size": None}) == [2048, 8192]
    for m in model_names(MODELS):
        assert tuple(vars(job_cost(m, "sweep", False)).values()) == (1, 2000, 15)
        assert tuple(vars(job_cost(m, "sweep", True)).values()) == (2, 16000, 120)
        assert tuple(vars(job_cost(m, "train", False)).values()) == (2, 3000, 30)
        assert tuple(vars(job_cost(m, "train", True)).values()) == (2, 24000, 600)
        assert model_gpus(m, "cuda") == 1 and model_gpus(m, "cpu") == 0 and model_gpus(m, "auto") == 0


def test_grammar_one_family_per_name_and_clear_errors():
    for name in model_names(MODELS):
        assert re.fullmatch(MODEL_NAME_PATTERN, name)
        assert sum(bool(re.fullmatch(f.pattern, name)) for f in FAMILIES) == 1, name
    assert [is_graph_model(m) for m in ("logreg", "edge_mlp", "mf_h8", "lightgcn_h8", "gnn_h8")] == [
        False, False, False, True, True]
    for bad in ("mlp", "lightgcn_64", "gnn_h", "sage_h16", "logreg_h4", "edge_mlp2"):
        assert not re.fullmatch(MODEL_NAME_PATTERN, bad), bad
        with pytest.raises(ValueError, match=f"unknown model name '{bad}'"):
            family_of(bad)


def test_every_key_a_family_reads_is_in_the_config_schema():
    models = validate_config({})["models"]
    for f in FAMILIES:
        assert f.sizes_key is None or f.sizes_key in models, f.name
        for _, key in f.reads:
            assert key in models, (f.name, key)
        assert f.layers_key is None or f.layers_key in dict(f.reads), f.name
        assert f.sweep_batch_key is None or f.sweep_batch_key in validate_config({})["sweep"], f.name

"""config.yaml is validated at startup: unknown keys and bad values stop the run with a clear message."""

from pathlib import Path

import pytest
import yaml

from vmrec.config import ConfigError, dataset_name, load_config, validate_config

ROOT = Path(__file__).resolve().parents[1]


def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_config_is_valid_and_complete():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg["dataset"] == "synthetic" and cfg["scale"] == "small"
    world = cfg["synthetic"]["world"]  # platform as shipped; the suite also runs with config.yaml on simple
    assert dataset_name(cfg) == "synthetic-small" + ("" if world == "simple" else f"-{world}")
    assert validate_config({})["synthetic"]["world"] == "platform"  # the schema's default world
    assert cfg["labels"]["complete_ratio"] == 0.9


def test_defaults_are_filled_from_schema():
    cfg = validate_config({})
    assert cfg["split"] == {"train_frac": 0.7, "val_frac": 0.15}
    assert cfg["ingest"]["duplicates"] == "keep"
    assert dataset_name(validate_config({"dataset": "kuairec"})) == "kuairec"


def test_unknown_key_names_the_key_and_allowed_keys():
    cfg = default_config()
    cfg["labels"]["complete_ratoi"] = 0.8
    with pytest.raises(ConfigError) as e:
        validate_config(cfg)
    msg = str(e.value)
    assert "complete_ratoi" in msg and "complete_ratio" in msg and "labels" in msg


def test_bad_enum_value_lists_allowed_values():
    with pytest.raises(ConfigError, match=r"scale.*'huge'.*tiny.*small.*full"):
        validate_config({"scale": "huge"})


def test_nested_number_given_as_text_says_how_to_set_it():
    """`snakemake --config 'value_model={bootstrap: 5}'` hands the nested 5 over as the text '5'."""
    with pytest.raises(ConfigError, match=r"value_model.bootstrap.*'5'.*--configfile") as e:
        validate_config({"value_model": {"bootstrap": "5"}})
    assert str(e.value).count("--configfile") == 1
    with pytest.raises(ConfigError) as e:
        validate_config({"value_model": {"bootstrap": "many"}})  # not a number: no such hint
    assert "--configfile" not in str(e.value)


def test_session_splits_take_known_splits_only():
    assert validate_config({})["value_model"]["session_splits"] == ["val", "test"]
    with pytest.raises(ConfigError, match=r"value_model.session_splits.*'small'"):
        validate_config({"value_model": {"session_splits": ["small"]}})
    with pytest.raises(ConfigError, match=r"value_model.session_splits"):
        validate_config({"value_model": {"session_splits": []}})


def test_bad_number_names_the_key():
    with pytest.raises(ConfigError, match=r"split.train_frac"):
        validate_config({"split": {"train_frac": 1.5}})
    with pytest.raises(ConfigError, match=r"train_frac \+ val_frac"):
        validate_config({"split": {"train_frac": 0.9, "val_frac": 0.2}})


def test_full_size_settings_replace_the_small_ones_only_on_full_size_data():
    small = load_config(ROOT / "config.yaml")
    full = load_config(ROOT / "config.yaml", {"scale": "full"})
    real = load_config(ROOT / "config.yaml", {"dataset": "kuairec"})
    assert small["models"]["hidden_dims"] == [16]
    for cfg in (full, real):
        assert cfg["models"]["hidden_dims"] == [64]
        assert cfg["sweep"]["batch_size"] == [65536]
        assert cfg["models"]["mlp_hidden"] == small["models"]["mlp_hidden"]  # keys it does not name stay
    # full_size: {} keeps the small-scale settings on full-size data
    assert load_config(ROOT / "config.yaml", {"scale": "full", "full_size": {}})["models"] == small["models"]


def test_bad_key_inside_full_size_is_reported():
    with pytest.raises(ConfigError, match="full_size"):
        validate_config({"full_size": {"modles": {"epochs": 2}}})
    with pytest.raises(ConfigError, match="epochs"):
        validate_config({"scale": "full", "full_size": {"models": {"epochs": 0}}})


def test_costlier_models_get_higher_scheduling_priority():
    """Longest first: the GNNs' sweep, train and evaluate jobs start before the cheap models' ones."""
    from vmrec.config import model_priority

    order = ["logreg", "edge_mlp", "mf_h64", "gnn_h16", "gnn_h64", "gnn_h128", "gnn_h512"]
    prios = [model_priority(m) for m in order]
    assert prios == sorted(prios) and len(set(prios)) == len(prios)


@pytest.mark.parametrize("key,value,match", [
    ("synthetic", {"value_weights": {"y_complete": 0.0, "y_long": 0.0, "y_rewatch": 0.0, "y_neg": 0.0}},
     r"'synthetic.value_weights': the weights are all zero"),
    ("synthetic", {"value_weights": {"y_complete": float("nan"), "y_long": 0.8, "y_rewatch": 0.6,
                                     "y_neg": -1}},
     r"'synthetic.value_weights': weights must be finite numbers; found \[nan\] for \['y_complete'\]"),
    ("synthetic", {"value_weights": {"y_complete": 1.0, "y_long": 0.8, "y_rewatch": 0.6, "y_skip": -1}},
     r"synthetic.value_weights"),
])
def test_planted_weights_must_have_a_direction(key, value, match):
    from vmrec.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match=match):
        validate_config({"dataset": "synthetic", key: value})


def test_recovery_planted_weights_are_checked_by_position():
    from vmrec.config import ConfigError, validate_config

    planted = [{"y_complete": 1.0, "y_long": 0.8, "y_rewatch": 0.6, "y_neg": -1.2},
               {"y_complete": 0.0, "y_long": 0.0, "y_rewatch": 0.0, "y_neg": 0.0}]
    with pytest.raises(ConfigError, match=r"'value_model.recovery.planted\[1\]': the weights are all zero"):
        validate_config({"dataset": "synthetic", "value_model": {"recovery": {"planted": planted}}})


def test_lightgcn_keys_are_validated_with_defaults():
    cfg = validate_config({})
    assert cfg["models"]["lightgcn_dims"] == [64] and cfg["models"]["lightgcn_layers"] == 2
    assert cfg["models"]["lightgcn_l2"] == 0.003 and cfg["sweep"]["lightgcn_batch_size"] == [8192]
    assert validate_config({"sweep": {"lightgcn_batch_size": None}})["sweep"]["lightgcn_batch_size"] is None
    with pytest.raises(ConfigError, match="lightgcn_batch_size"):
        validate_config({"sweep": {"lightgcn_batch_size": [0]}})
    from vmrec.config import model_names

    assert "lightgcn_h64" in model_names(cfg["models"])
    assert "lightgcn_h32" in model_names(validate_config({"models": {"lightgcn_dims": [32]}})["models"])
    assert "lightgcn_h64" not in model_names(validate_config({"models": {"lightgcn_dims": []}})["models"])
    for bad in ({"lightgcn_dims": [0]}, {"lightgcn_dims": 64}, {"lightgcn_layers": 0}, {"lightgcn_layer": 2},
                {"lightgcn_l2": -1}):
        with pytest.raises(ConfigError, match="lightgcn"):
            validate_config({"models": bad})

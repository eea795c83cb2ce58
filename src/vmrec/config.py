"""Load config.yaml, validate it against schemas/config.schema.yaml and fill the defaults."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vmrec.contracts import HEADS

# The model families (name grammar, keys each reads, priority, cost, GPU use) are owned by vmrec.registry;
# these names stay importable from here for the callers that read them with the config.
from vmrec.registry import MODEL_NAME_PATTERN, is_graph_model, model_names, model_priority  # noqa: F401

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """config.yaml holds an unknown key or a bad value."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _fill_defaults(cfg: dict, schema: dict) -> dict:
    """Fill missing keys from the schema's `default`s, recursing into nested objects."""
    for key, sub in schema.get("properties", {}).items():
        if key not in cfg and "default" in sub:
            cfg[key] = copy.deepcopy(sub["default"])
        if sub.get("type") == "object" and isinstance(cfg.get(key), dict):
            _fill_defaults(cfg[key], sub)
    return cfg


def _describe(err: jsonschema.ValidationError, schema: dict) -> str:
    key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        unexpected = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        return f"unknown key(s) {unexpected} under {key}; allowed keys: {allowed}"
    if err.validator == "enum":
        return f"key '{key}': {err.instance!r} is not allowed; allowed values: {err.validator_value}"
    desc = err.schema.get("description")
    hint = f" ({desc})" if desc else ""
    if err.validator == "type" and isinstance(err.instance, str) and len(err.absolute_path) > 1:
        try:
            yaml_value = yaml.safe_load(err.instance)
        except yaml.YAMLError:
            yaml_value = err.instance
        if not isinstance(yaml_value, str):
            # snakemake --config 'section={key: 5}' passes nested values as text
            hint += ("; nested values given with --config arrive as text: put nested settings in a YAML file "
                     "and add it with --configfile config.yaml my-settings.yaml")
    return f"key '{key}': {err.message}{hint}"


def is_full_size(cfg: dict) -> bool:
    """The data has the real KuaiRec size (scale full, or the real release)."""
    return cfg.get("dataset") == "kuairec" or cfg.get("scale") == "full"


def _merge(base: dict, over: dict) -> dict:
    """`base` with the keys of `over` replaced, recursing into nested mappings."""
    out = dict(base)
    for k, v in over.items():
        nested = isinstance(v, dict) and isinstance(out.get(k), dict)
        out[k] = _merge(out[k], v) if nested else copy.deepcopy(v)
    return out


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Return a validated copy of `config` with defaults filled in; raise ConfigError naming the bad key.

    On full-size data (`is_full_size`) the `full_size` section replaces the keys it names."""
    schema = schema or load_schema()
    cfg = _fill_defaults(copy.deepcopy(dict(config)), schema)
    if is_full_size(cfg) and isinstance(cfg.get("full_size"), dict):
        cfg = _merge(cfg, {k: v for k, v in cfg["full_size"].items() if isinstance(v, dict)})
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = "\n".join(f"  - {_describe(e, schema)}" for e in errors)
        raise ConfigError(f"invalid configuration (see schemas/config.schema.yaml):\n{lines}")
    sp = cfg["split"]
    if sp["train_frac"] + sp["val_frac"] >= 1:
        raise ConfigError(
            f"key 'split': train_frac + val_frac must be < 1 (test gets the rest); "
            f"found {sp['train_frac']} + {sp['val_frac']}"
        )
    if cfg["sessions"]["min_length"] > cfg["sessions"]["max_length"]:
        raise ConfigError("key 'sessions': min_length must be <= max_length")
    _check_seed_study(cfg["seed_study"])
    _check_weight_vector(cfg["synthetic"]["value_weights"], "synthetic.value_weights")
    for i, planted in enumerate(cfg["value_model"]["recovery"]["planted"]):
        _check_weight_vector(planted, f"value_model.recovery.planted[{i}]")
    return cfg


def _check_weight_vector(weights: dict, key: str) -> None:
    """A planted w* is finite and not the zero vector (it has no direction then)."""
    bad = [h for h in HEADS if not math.isfinite(float(weights[h]))]
    if bad:
        raise ConfigError(f"key '{key}': weights must be finite numbers; found {[weights[h] for h in bad]} "
                          f"for {bad}")
    if all(float(weights[h]) == 0 for h in HEADS):
        raise ConfigError(f"key '{key}': the weights are all zero; a value model needs a direction")


def _check_seed_study(study: dict) -> None:
    """What the schema cannot say about `seed_study`: each w* range is [low, high] with low <= high, and
    y_complete's low is > 0 (every drawn w* rewards completion, so it is never the zero vector)."""
    ranges = study["w_star"]["ranges"]
    for head in HEADS:
        low, high = ranges[head]
        if low > high:
            raise ConfigError(f"key 'seed_study.w_star.ranges.{head}': low must be <= high; "
                              f"found [{low}, {high}]")
    if ranges["y_complete"][0] <= 0:
        raise ConfigError("key 'seed_study.w_star.ranges.y_complete': low must be > 0 (every planted w* "
                          f"rewards completion); found {ranges['y_complete']}")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict:
    """Read a YAML config file, apply overrides, validate and fill defaults."""
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f) or {}
    if overrides:
        cfg.update(overrides)
    return validate_config(cfg)


def synthetic_world(cfg: dict) -> str:
    """The synthetic world a config asks for (`synthetic.world`; a config not yet validated may lack it:
    simple, the world of configs written before there were two)."""
    return cfg.get("synthetic", {}).get("world", "simple")


def dataset_name(cfg: dict) -> str:
    """Name of the run's data: `synthetic-<scale>` (`synthetic-<scale>-<world>` for a world other than
    simple, so that the two worlds' runs never share a folder) or `kuairec`, with `-<run_name>` when the
    config sets `run_name`; results go to results/<name>/ (and synthetic raw data to data/raw/<name>/)."""
    if cfg["dataset"] == "synthetic":
        world = synthetic_world(cfg)
        name = f"synthetic-{cfg['scale']}" + ("" if world == "simple" else f"-{world}")
    else:
        name = "kuairec"
    return f"{name}-{cfg['run_name']}" if cfg.get("run_name") else name


# The settings one recovery case depends on (Snakemake params of rule recovery_case): editing the main
# estimate's pools, model or source, or another planted w*, leaves the finished cases alone.
RECOVERY_KEYS = ("noise_levels", "max_sessions", "bootstrap", "restarts")
ESTIMATOR_KEYS = ("loss", "embedding", "evals_per_restart", "evals_per_bootstrap")


def recovery_settings(vm: dict, case: int) -> dict:
    """Settings of recovery case `case` (value_model section `vm`): its planted w*, the study's shared
    settings and the estimator's."""
    rc = vm["recovery"]
    if not 0 <= case < len(rc["planted"]):
        n = len(rc["planted"])
        raise ValueError(f"recovery case {case}: value_model.recovery.planted has {n} entries")
    planted = {h: float(rc["planted"][case][h]) for h in HEADS}  # head order, not the file's key order
    # the pools-unknown rows (pool-marginal Plackett-Luce): its estimator settings, the study's session count
    marginal = {**vm["marginal_pl"], **rc["pools_unknown"], "max_sessions": rc["pools_unknown_sessions"],
                "bootstrap": min(vm["marginal_pl"]["bootstrap"], rc["bootstrap"], 10)}
    return {"planted": planted, **{k: rc[k] for k in RECOVERY_KEYS}, **{k: vm[k] for k in ESTIMATOR_KEYS},
            "marginal": marginal}

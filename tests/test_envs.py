"""The conda environment (envs/vmrec.yaml, for `--sdm conda`) installs what pyproject.toml pins, and every
rule that runs code uses it; GPU requests and local rules as the rule files declare them."""

from __future__ import annotations

import re
import tomllib

import yaml
from snakerun import ROOT

ENV_FILE = ROOT / "envs" / "vmrec.yaml"


def _name(req: str) -> str:
    return re.split(r"[=<>!~ ;\[]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pins(reqs: list[str]) -> dict[str, str]:
    pins = {}
    for r in reqs:
        assert "==" in r, f"{r!r} is not pinned with =="
        pins[_name(r)] = r.split("==", 1)[1].strip()
    return pins


def _env() -> tuple[list[str], dict[str, str]]:
    env = yaml.safe_load(ENV_FILE.read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return conda, _pins(pip)


def test_env_pins_equal_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = _pins(project["dependencies"])
    _, pip = _env()
    pip.pop("torch")
    differ = {k: (pip[k], wanted[k]) for k in set(pip) & set(wanted) if pip[k] != wanted[k]}
    only_env, only_project = set(pip) - set(wanted), set(wanted) - set(pip)
    assert pip == wanted, (f"envs/vmrec.yaml and pyproject.toml disagree: only in env {only_env}, "
                           f"only in pyproject {only_project}, versions (env, pyproject) {differ}")


def test_env_has_python_311_and_the_makefile_torch():
    conda, pip = _env()
    assert "python=3.11" in conda, conda
    make_torch = re.search(r"torch==([\w.]+)", (ROOT / "Makefile").read_text(encoding="utf-8")).group(1)
    assert pip["torch"] == make_torch == "2.13.0"


def _rules(config: dict) -> list:
    """The workflow's rules, parsed in-process by Snakemake's API (no job runs)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DeploymentSettings,
        OutputSettings,
        ResourceSettings,
        StorageSettings,
        WorkflowSettings,
    )

    with SnakemakeApi(OutputSettings()) as api:
        wapi = api.workflow(snakefile=ROOT / "Snakefile", workdir=ROOT,
                            config_settings=ConfigSettings(configfiles=[ROOT / "config.yaml"], config=config),
                            resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                            workflow_settings=WorkflowSettings(), deployment_settings=DeploymentSettings())
        return list(wapi._workflow.rules)


def _gpus(rule, model: str) -> int:
    """The GPUs a job of `rule` (for model `model` when per model) asks for."""
    from types import SimpleNamespace

    res = rule.resources["gpu"]
    return res._evaluator(SimpleNamespace(model=model)) if res.is_evaluable() else res.raw


def test_every_rule_that_runs_code_uses_the_conda_env_and_cuda_asks_for_gpus():
    """Declared on the rules (conda:, resources: gpu=), not patched by rule name: a rule that runs torch
    on config `device` (it has a `device` param) asks for one GPU per job under device: cuda."""
    from vmrec.registry import model_names

    rules = _rules({"scale": "tiny", "device": "cuda"})
    code_rules = [r for r in rules if r.script or r.shellcmd]
    assert code_rules, "no rules found"
    no_env = [r.name for r in code_rules if not str(r.conda_env or "").endswith("envs/vmrec.yaml")]
    assert not no_env, f"rules without conda env envs/vmrec.yaml: {no_env}"
    gpu_rules = [r for r in rules if "device" in r.params.keys()]
    assert {"sweep", "train", "estimate_weights", "recovery_case"} <= {r.name for r in gpu_rules}
    models = model_names({"hidden_dims": [16], "mf_dims": [8], "lightgcn_dims": [8]})
    no_gpu = [(r.name, m) for r in gpu_rules for m in models if "gpu" not in r.resources or _gpus(r, m) != 1]
    assert not no_gpu, f"rules that ask no GPU under device: cuda: {no_gpu}"
    others = [r.name for r in rules if r not in gpu_rules and "gpu" in r.resources]
    assert not others, f"rules that run nothing on the device but ask for a GPU: {others}"


def test_cpu_runs_ask_no_gpu():
    assert not [r.name for r in _rules({"scale": "tiny", "device": "cpu"}) if "gpu" in r.resources]


def test_cheap_rules_run_on_the_submit_host():
    """The localrules directive names the aggregation rules; nothing else runs outside the cluster."""
    rules = _rules({"scale": "tiny"})
    local = {r.name for r in rules if r.name in r.workflow._localrules or r.norun}  # Workflow.is_local
    assert local == {"all", "select", "report_headline", "report_figures", "offpolicy_report"}, local


def test_no_rule_that_builds_or_trains_a_model_reads_the_truth():
    """The planted truth (data/raw/<name>/truth/: probabilities, pools, propensities) is for evaluation and
    reference rows only: the rules from the raw files to the trained models never take it as input."""
    rules = {r.name: r for r in _rules({"scale": "tiny"})}
    training = ["ingest", "features", "graph", "sweep", "select", "train", "sessions"]
    assert set(training) <= set(rules), sorted(rules)
    reads = {n: [str(f) for f in rules[n].input if "truth" in str(f)] for n in training}
    assert not any(reads.values()), f"rules reading the truth: {reads}"
    # the evaluation rules do read it: the check looks at the right paths
    assert any("truth" in str(f) for f in rules["evaluate_pools"].input)

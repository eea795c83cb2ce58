"""The conda environment (envs/vmrec.yaml, for `--sdm conda`) installs what pyproject.toml pins, and every
rule that runs code uses it."""

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


def test_every_rule_that_runs_code_uses_the_conda_env_and_cuda_asks_for_gpus():
    rules = _rules({"scale": "tiny", "device": "cuda"})
    code_rules = [r for r in rules if r.script or r.shellcmd]
    assert code_rules, "no rules found"
    no_env = [r.name for r in code_rules if not str(r.conda_env or "").endswith("envs/vmrec.yaml")]
    assert not no_env, f"rules without conda env envs/vmrec.yaml: {no_env}"
    gpu_rules = [r for r in rules if r.name.startswith(("train", "sweep", "estimate_weights"))]
    no_gpu = [r.name for r in gpu_rules if "gpu" not in r.resources or r.resources["gpu"].raw != 1]
    assert not no_gpu, f"rules that ask no GPU under device: cuda: {no_gpu}"


def test_cpu_runs_ask_no_gpu():
    assert not [r.name for r in _rules({"scale": "tiny", "device": "cpu"}) if "gpu" in r.resources]

"""The tiny pipeline submitted to a real SLURM (a one-node cluster on this machine, started by
tests/cluster/setup_slurm.sh) through `--workflow-profile profiles/slurm` gives the local run's results,
and every non-local job went through sbatch.

Skipped (with the reason) where no SLURM can be started (not root, no apt); under CI (CI=true) it runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from snakerun import ROOT, Workflow, assert_same_tables, copy_workflow, executed_rules

pytestmark = [pytest.mark.cluster, pytest.mark.workflow, pytest.mark.slow]

SETUP = ROOT / "tests" / "cluster" / "setup_slurm.sh"
STOP = ROOT / "tests" / "cluster" / "stop_slurm.sh"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _slurm_running() -> bool:
    if not shutil.which("sinfo"):
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return proc.returncode == 0 and any(s in proc.stdout for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    """A running SLURM: reuse one, else start ours (and stop it afterwards)."""
    if _slurm_running():
        yield False
        return
    reason = None
    if os.geteuid() != 0:
        reason = "starting a SLURM cluster needs root"
    elif not shutil.which("slurmctld") and not shutil.which("apt-get"):
        reason = "SLURM is not installed and apt-get is not available to install it"
    if reason:
        if IN_CI:
            pytest.fail(f"CI must run the cluster test, but {reason}")
        pytest.skip(reason)
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        msg = f"{SETUP.name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    yield True
    subprocess.run(["bash", str(STOP)], capture_output=True, timeout=60)


def _partition() -> str:
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, check=True).stdout
    return out.split()[0].rstrip("*")


# Every artifact of the cluster run is compared with the local run's (tiny_workdir): data tables exactly,
# model and value-model numbers within float noise (the same code, seeds and per-rule thread counts: SLURM's
# cpus_per_task follows each rule's threads).
EXACT = ("tables", "features", "sessions")
NOISY = ("sweep", "models", "metrics", "value_model", "report")


def test_tiny_pipeline_on_slurm_matches_local_run(slurm, tmp_path, tiny_workdir):
    wf = Workflow(repo=copy_workflow(tmp_path / "repo"), workdir=tmp_path / "wd",
                  targets=tiny_workdir.targets)
    proc = wf.run(
        "--workflow-profile", str(wf.repo / "profiles" / "slurm"),
        "--default-resources", f"slurm_partition={_partition()}", "mem_mb=1000", "runtime=30",
        "--slurm-init-seconds-before-status-checks", "2", "--slurm-no-account", "-j", "8",
        timeout=1500,
    )
    out = proc.stdout + proc.stderr
    ran = executed_rules(out)
    assert ran, f"no job ran:\n{out[-3000:]}"
    # the whole DAG ran: every rule of the local build
    local_rules = set(tiny_workdir.dry_run("--forceall"))
    assert local_rules <= ran | {"all"}, f"rules that did not run on the cluster: {local_rules - ran}"
    # every non-local job was submitted with sbatch: a SLURM job id and a slurm log per rule
    submitted = set(re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", out))
    logs = wf.workdir / ".snakemake" / "slurm_logs"
    logged = {p.name.removeprefix("rule_") for p in logs.glob("rule_*")} if logs.is_dir() else set()
    local = {m for m in re.findall(r"^\s*localrule (\w+):", out, flags=re.M)}
    remote = ran - local - {"all"}
    assert submitted, f"no job was submitted to SLURM:\n{out[-3000:]}"
    assert {"train", "sweep", "estimate_weights"} & remote, f"no model job went through SLURM: {remote}"
    assert remote <= logged, f"rules run outside SLURM (no slurm log under {logs}): {remote - logged}"
    # same results as the local run
    for folder in EXACT:
        assert_same_tables(tiny_workdir.results / folder, wf.results / folder)
    for folder in NOISY:
        if (tiny_workdir.results / folder).is_dir():
            try:
                assert_same_tables(tiny_workdir.results / folder, wf.results / folder, rtol=1e-4, atol=1e-5)
            except AssertionError as err:
                raise AssertionError(f"{err}\nthread settings per job (local | SLURM):\n"
                                     + _device_lines(tiny_workdir.results, wf.results)) from None


def _device_lines(local: Path, cluster: Path) -> str:
    """Each training job's logged device line (thread counts) in both runs, side by side."""
    rows = []
    for log in sorted((local / "logs").rglob("*.log")):
        rel = log.relative_to(local)
        pick = [[ln.split("device: ", 1)[1] for ln in p.read_text(encoding="utf-8", errors="replace")
                 .splitlines() if "device: " in ln] if p.is_file() else ["missing"]
                for p in (log, cluster / rel)]
        if any(pick):
            rows.append(f"  {rel}: {pick[0]} | {pick[1]}")
    return "\n".join(rows)


def test_failed_cluster_job_names_its_log_and_a_rerun_resumes(slurm, tmp_path, tiny_workdir):
    wf = Workflow(repo=copy_workflow(tmp_path / "repo"), workdir=tmp_path / "wd",
                  targets=tiny_workdir.targets)
    shutil.copytree(tiny_workdir.workdir / "data", wf.workdir / "data", symlinks=True)
    script = wf.repo / "scripts" / "ingest.py"
    good = script.read_text(encoding="utf-8")
    script.write_text(good.replace("def main(smk) -> None:\n",
                                   "def main(smk) -> None:\n    raise RuntimeError('injected failure')\n"),
                      encoding="utf-8")
    args = ("--workflow-profile", str(wf.repo / "profiles" / "slurm"),
            "--default-resources", f"slurm_partition={_partition()}", "mem_mb=1000", "runtime=30",
            "--slurm-init-seconds-before-status-checks", "2", "--slurm-no-account", "-j", "4",
            "--until", "ingest")
    failed = wf.run(*args, check=False, timeout=900)
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0, "the injected failure did not fail the run"
    # the error is in the job's logs, and the failure report names them
    logs = [wf.results / "logs" / "ingest.log",
            *(wf.workdir / ".snakemake" / "slurm_logs").glob("rule_ingest/**/*.log")]
    assert any("injected failure" in p.read_text(encoding="utf-8", errors="replace") for p in logs
               if p.is_file()), f"no log holds the error: {logs}"
    assert "slurm_logs/rule_ingest" in out and "logs/ingest.log" in out, \
        f"the failure report names no log:\n{out[-3000:]}"
    script.write_text(good, encoding="utf-8")
    resumed = wf.run(*args, timeout=900)
    assert "ingest" in executed_rules(resumed.stdout + resumed.stderr)
    assert_same_tables(tiny_workdir.results / "tables", wf.results / "tables")


def test_setup_script_is_idempotent(slurm):
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _slurm_running()


def test_cluster_scripts_exist_and_are_executable():
    for p in (SETUP, STOP):
        assert Path(p).is_file() and os.access(p, os.X_OK), p

"""A run killed in the middle (Ctrl-C, or a hard kill of the whole process group) resumes with
`snakemake -j2`: the interrupted step reruns, finished steps don't, and nothing is left half-written or
silently wrong. A second Snakemake on a running directory is refused. Rebuilding results/ from scratch
gives identical tables (determinism).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from snakerun import (
    LOCKED,
    Workflow,
    assert_artifacts_readable,
    assert_same_tables,
    copy_workflow,
    env,
    executed_rules,
    jobs_of,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

# The step to interrupt: the first of these in the DAG. `features` is the longest single job before the
# many sweep/train jobs at tiny scale (seconds), with only ingest before it, so the test stays short.
CANDIDATES = ("features", "graph")


def _fresh(tmp_path: Path, tiny_workdir: Workflow) -> Workflow:
    """A new working directory holding only the tiny raw data of the shared build (so synthesize is done)."""
    wf = Workflow(repo=copy_workflow(tmp_path / "repo"), workdir=tmp_path / "wd",
                  targets=tiny_workdir.targets)
    shutil.copytree(tiny_workdir.workdir / "data", wf.workdir / "data", symlinks=True)
    return wf


def _victim(wf: Workflow) -> str:
    rules = wf.rules()
    for prefix in CANDIDATES:
        for rule in rules:
            if rule.startswith(prefix):
                return rule
    pytest.fail(f"none of {CANDIDATES} in the DAG: {rules}")


def _default_sigint() -> None:
    """In the run's process: default Ctrl-C handling. A test runner started in the background (e.g. by a
    CI script with `&`) inherits SIGINT ignored, and Snakemake and its jobs would inherit that too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _inject_at_main(wf: Workflow, rule: str, code: str) -> None:
    """In the test's copy of the workflow, run `code` (indented lines) first in `rule`'s script."""
    script = wf.repo / "scripts" / f"{rule}.py"
    text = script.read_text(encoding="utf-8")
    entry = 'if __name__ == "__main__":\n'
    assert entry in text, f"no main block in {script}"
    script.write_text(text.replace(entry, entry + code, 1), encoding="utf-8")


def _spawn(wf: Workflow, *args: str, stdout) -> subprocess.Popen:
    """Start snakemake in its own process group (signals go to the group), with default Ctrl-C handling."""
    return subprocess.Popen(wf.cmd(*args), stdout=stdout, stderr=subprocess.STDOUT, env=env(),
                            start_new_session=True, preexec_fn=_default_sigint)


def _start_and_kill(wf: Workflow, rule: str, sig: int, timeout: float = 600) -> str:
    """Run the pipeline up to `rule`; once its job runs, send `sig`
    to the run's whole process group (SIGINT: like Ctrl-C in a terminal; SIGKILL: like a crash)."""
    # output to a file, not a pipe: an unread pipe fills up and blocks the jobs that write progress bars
    out_file = wf.workdir.parent / f"interrupted-{sig}.out"
    wf.workdir.mkdir(parents=True, exist_ok=True)
    # the step takes well under a second on an idle machine: in this copy of the workflow its script
    # first waits while a HOLD file exists in the working directory, so the signal lands mid-step
    hold, held = wf.workdir / "HOLD", wf.workdir / "HELD"
    _inject_at_main(wf, rule, "    open('HELD', 'w').close()\n"
                    "    while __import__('os').path.exists('HOLD'):\n"
                    "        __import__('time').sleep(0.05)\n")
    hold.touch()
    with open(out_file, "w") as sink:
        proc = _spawn(wf, "-j1", "--until", rule, stdout=sink)
    deadline = time.monotonic() + timeout
    try:
        while not held.exists():  # the step's job runs (and waits on HOLD)
            if proc.poll() is not None:
                pytest.fail(f"the run ended before {rule} started:\n{out_file.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{rule} did not start within {timeout} s")
            time.sleep(0.05)
        # to the whole process group, as a terminal does on Ctrl-C (Snakemake itself waits for running
        # local jobs on SIGINT; the job gets the signal from the terminal) or as a crash of the machine
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # still shutting down (it waits for its running job): release the job, press Ctrl-C again
            hold.unlink(missing_ok=True)
            os.killpg(proc.pid, sig)
            proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        hold.unlink(missing_ok=True)
    out = out_file.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode != 0, f"the run was not interrupted (it finished):\n{out[-3000:]}"
    return out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_killed_run_resumes_and_reruns_only_the_interrupted_step(tmp_path, tiny_workdir, sig):
    wf = _fresh(tmp_path, tiny_workdir)
    rule = _victim(wf)
    first = _start_and_kill(wf, rule, sig)
    done_before = executed_rules(first) - {rule}
    if sig == signal.SIGKILL:
        # a hard kill leaves Snakemake's lock behind; the README says to unlock
        wf.run("--unlock")
    second = wf.run("-j2", "--until", rule)
    out = second.stdout + second.stderr
    rerun = executed_rules(out)
    assert rule in rerun, f"the interrupted step {rule} did not rerun; the resume ran {rerun}"
    again = (done_before & rerun) - {"all"}
    assert not again, f"steps finished before the interrupt ran again: {again}"
    assert_artifacts_readable(wf.results)
    # nothing silently wrong: every artifact equals the uninterrupted build's
    for rel in ("tables", "features"):
        assert_same_tables(tiny_workdir.results / rel, wf.results / rel)
    wf.run("-j2", "--until", rule)
    left = {r: n for r, n in jobs_of(wf.runs[-1]).items() if r != "all"}
    assert not left, f"the resumed run left work to do: {left}"


def test_second_snakemake_on_a_running_directory_is_refused(tmp_path, tiny_workdir):
    wf = _fresh(tmp_path, tiny_workdir)
    rule = _victim(wf)
    # On an idle machine the tiny job can finish before the second run starts: make it hold the lock.
    _inject_at_main(wf, rule, "    __import__('time').sleep(120)\n")
    # the whole pipeline: it runs for minutes, so the first run still holds its lock when the second starts
    proc = _spawn(wf, "-j1", stdout=subprocess.DEVNULL)
    try:
        # wait until the first run executes a job (it holds its lock by then)
        log_dir = wf.results / "logs"
        deadline = time.monotonic() + 300
        while not (log_dir.is_dir() and any(log_dir.rglob("*.log"))):
            assert proc.poll() is None, "the first run ended before it started a job"
            assert time.monotonic() < deadline, "the first run started no job within 300 s"
            time.sleep(0.05)
        second = wf.run("-j1", check=False)
        out = second.stdout + second.stderr
        assert second.returncode != 0, f"a second snakemake ran in a locked directory:\n{out[-3000:]}"
        assert LOCKED in out and "--unlock" in out, out[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# Data-side steps rebuilt by the determinism test (the model steps take minutes at tiny scale on 2 cores).
REBUILD = ("features", "sessions", "graph")


def test_results_deleted_and_rebuilt_are_identical(tmp_path, tiny_workdir):
    wf = _fresh(tmp_path, tiny_workdir)  # same raw data, empty results/
    rules = set(wf.rules())
    wf.targets = tuple(r for r in REBUILD if r in rules)
    wf.run("-j2")
    for folder in ("tables", "features", "sessions"):
        if (wf.results / folder).is_dir():
            assert_same_tables(tiny_workdir.results / folder, wf.results / folder)

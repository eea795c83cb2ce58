"""Run the vmrec workflow with Snakemake from tests, the way a user does, in scratch directories.

The workflow files (Snakefile, rules, scripts, src, schemas, config, profiles, envs) are copied to a
private folder first, so tests may edit code there (rerun triggers) without touching the repository,
and so runs on the tiny config never lock or write into the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The tests' settings, merged over config.yaml: the tiny scale and a smaller value-model study.
TINY_CONFIG = ROOT / "tests" / "tiny.yaml"
WORKFLOW_PARTS = ("Snakefile", "seed_study.smk", "config.yaml", "rules", "scripts", "src", "schemas",
                  "profiles", "envs", "report")
NOTHING_TO_DO = "Nothing to be done"
LOCKED = "Directory cannot be locked"


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow's files (not data, results or the venv) to `dest`; return `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


def snakemake_cmd(repo: Path, workdir: Path, *args: str, config: tuple[str, ...] = (),
                  extra_configfile: Path | None = None, targets: tuple[str, ...] = ()) -> list[str]:
    """The command line a user would type, with the tests' tiny config (tests/tiny.yaml over config.yaml)
    and a scratch working directory (`extra_configfile` is merged over both, as a user's own config file
    would be; `config`: --config key=value pairs over all of them)."""
    # targets first: options with several values (--config, --forcerun, ...) would swallow them
    cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(repo / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(repo / "config.yaml"), str(TINY_CONFIG)]
    if extra_configfile:
        cmd.append(str(extra_configfile))
    if config:
        cmd += ["--config", *config]
    return cmd + list(args)


def tiny_dataset(*extra: dict) -> str:
    """The dataset name (results/<name>/) of the tests' tiny config (config.yaml, then tests/tiny.yaml,
    then `extra` dicts), as the workflow computes it: synthetic-tiny, or synthetic-tiny-<world> when the
    config's world is not simple."""
    from vmrec.config import _merge, dataset_name, validate_config

    cfg: dict = {}
    for part in (ROOT / "config.yaml", TINY_CONFIG):
        cfg = _merge(cfg, yaml.safe_load(part.read_text(encoding="utf-8")) or {})
    for part in extra:
        cfg = _merge(cfg, part)
    return dataset_name(validate_config(cfg))


def env() -> dict[str, str]:
    """Environment of a Snakemake child: few threads (the test machine has 2 cores), no colour codes."""
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    return e


@dataclass
class Workflow:
    """A private copy of the workflow (`repo`) and a working directory (`workdir`) it runs in."""

    repo: Path
    workdir: Path
    config: tuple[str, ...] = ()
    dataset: str = field(default_factory=tiny_dataset)
    runs: list[str] = field(default_factory=list)
    targets: tuple[str, ...] = ()  # empty: the default target (rule all)

    def cmd(self, *args: str, config: tuple[str, ...] | None = None,
            overrides: dict | None = None) -> list[str]:
        extra = None
        if overrides:
            extra = self.repo / f"override-{len(self.runs)}.yaml"
            extra.write_text(yaml.safe_dump(overrides), encoding="utf-8")
        return snakemake_cmd(self.repo, self.workdir, *args, config=self.config if config is None else config,
                             extra_configfile=extra, targets=self.targets)

    def choose_targets(self, candidates: tuple[str, ...] = ("all", "sessions", "graph", "features")) -> str:
        """Target the furthest step whose DAG is complete (while stages are still being added, `all` may
        need outputs no rule makes yet); return the chosen target."""
        for target in candidates:
            self.targets = () if target == "all" else (target,)
            proc = self.run("-n", check=False)
            if proc.returncode == 0:
                return target
        raise AssertionError(f"no buildable target among {candidates}:\n{self.runs[-1][-3000:]}")

    def run(self, *args: str, config: tuple[str, ...] | None = None, overrides: dict | None = None,
            check: bool = True, timeout: float = 1200) -> subprocess.CompletedProcess:
        """Run snakemake with `args` (`overrides`: config keys merged over config.yaml, nested allowed);
        on failure (check=True) raise with the tail of its output."""
        proc = subprocess.run(self.cmd(*args, config=config, overrides=overrides), capture_output=True,
                              text=True, env=env(), timeout=timeout)
        out = proc.stdout + proc.stderr
        self.runs.append(out)
        if check and proc.returncode != 0:
            raise AssertionError(f"snakemake {' '.join(args)} failed (exit {proc.returncode}) in "
                                 f"{self.workdir}:\n{out[-6000:]}")
        return proc

    def dry_run(self, *args: str, overrides: dict | None = None) -> dict[str, int]:
        """Jobs a dry run would execute, as {rule: count} (empty when nothing is to be done)."""
        proc = self.run("-n", *args, overrides=overrides)
        jobs = jobs_of(proc.stdout + proc.stderr)
        jobs.pop("all", None)
        return jobs

    @property
    def results(self) -> Path:
        return self.workdir / "results" / self.dataset

    def rules(self) -> list[str]:
        return self.run("--list-rules").stdout.split()


def jobs_of(output: str) -> dict[str, int]:
    """Parse the job-count table Snakemake prints ("job  count" rows) into {rule: count}."""
    if NOTHING_TO_DO in output:
        return {}
    jobs: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
                jobs[parts[0]] = int(parts[1])
            elif parts and parts[0] == "total":
                break
            elif parts and not set(line.strip()) <= {"-", " "}:
                break
    if not jobs and not in_table:
        raise AssertionError(f"no job table and no '{NOTHING_TO_DO}' in snakemake output:\n{output[-3000:]}")
    return jobs


def executed_rules(output: str) -> set[str]:
    """Rules whose jobs a (real) run started, from its "rule <name>:" / "localrule <name>:" lines."""
    return set(re.findall(r"^\s*(?:local)?(?:checkpoint|rule) (\w+):", output, flags=re.M))


def job_blocks(output: str) -> dict[str, str]:
    """The detail block Snakemake prints for each job ("rule x:" + indented fields), by rule name
    (the last block wins when a rule has several jobs)."""
    blocks: dict[str, str] = {}
    for m in re.finditer(r"^(?:local)?(?:checkpoint|rule) (\w+):\n((?:[ \t]+.*\n?)*)", output, flags=re.M):
        blocks[m.group(1)] = m.group(2)
    return blocks


def table_files(results: Path) -> list[Path]:
    """Every data artifact under results/ (tables, metrics, weights), relative paths, sorted."""
    keep = {".parquet", ".csv", ".json", ".tsv"}
    skip = {"benchmarks", "logs"}
    return sorted(p.relative_to(results) for p in results.rglob("*")
                  if p.is_file() and p.suffix in keep and not skip & set(p.parts))


def assert_same_tables(a: Path, b: Path, rtol: float = 0.0, atol: float = 0.0) -> None:
    """Tables under results dirs `a` and `b` are equal (Parquet by content, text files byte for byte,
    or within rtol/atol for numeric columns when tolerances are given)."""
    import numpy as np
    import pandas as pd

    files_a, files_b = table_files(a), table_files(b)
    assert files_a == files_b, f"different artifacts: only in {a}: {set(files_a) - set(files_b)}; " \
                               f"only in {b}: {set(files_b) - set(files_a)}"
    for rel in files_a:
        fa, fb = a / rel, b / rel
        if rel.suffix == ".parquet":
            ta, tb = pq.read_table(fa), pq.read_table(fb)
            if rtol == atol == 0:
                assert ta.equals(tb), f"{rel}: tables differ between {a} and {b}"
                continue
            da, db = ta.to_pandas(), tb.to_pandas()
        elif rel.suffix in {".csv", ".tsv"} and (rtol or atol):
            sep = "\t" if rel.suffix == ".tsv" else ","
            da, db = pd.read_csv(fa, sep=sep), pd.read_csv(fb, sep=sep)
        elif rel.suffix == ".json" and (rtol or atol):
            _assert_json_close(_load_json(fa), _load_json(fb), rtol, atol, str(rel))
            continue
        else:
            assert fa.read_bytes() == fb.read_bytes(), f"{rel}: files differ between {a} and {b}"
            continue
        assert list(da.columns) == list(db.columns), f"{rel}: columns differ"
        assert len(da) == len(db), f"{rel}: {len(da)} vs {len(db)} rows"
        for col in da.columns:
            if col in TIMING:
                continue
            ca, cb = da[col], db[col]
            if pd.api.types.is_numeric_dtype(ca) and pd.api.types.is_numeric_dtype(cb):
                np.testing.assert_allclose(ca.to_numpy(float), cb.to_numpy(float), rtol=rtol, atol=atol,
                                           equal_nan=True, err_msg=f"{rel}: column {col}")
            else:
                assert ca.astype(str).tolist() == cb.astype(str).tolist(), f"{rel}: column {col} differs"


# Wall-clock measurements in artifacts (training curves, sweep points): never equal between two runs.
TIMING = frozenset({"seconds", "edges_per_s"})


def _assert_json_close(a, b, rtol: float, atol: float, where: str) -> None:
    """JSON values equal, numbers within rtol/atol, TIMING keys ignored."""
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(a) - TIMING, set(b) - TIMING
        assert ka == kb, f"{where}: keys differ: {sorted(ka ^ kb)}"
        for k in sorted(ka):
            _assert_json_close(a[k], b[k], rtol, atol, f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_json_close(x, y, rtol, atol, f"{where}[{i}]")
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        assert math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (a != a and b != b), f"{where}: {a} vs {b}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def _load_json(path: Path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def assert_artifacts_readable(results: Path) -> None:
    """No half-written artifact: every Parquet file opens, no temp file of an atomic write is left."""
    leftovers = [p for p in results.rglob(".*.tmp")]
    assert not leftovers, f"temp files of interrupted writes left behind: {leftovers}"
    for p in results.rglob("*.parquet"):
        pq.read_metadata(p)  # raises on a truncated file

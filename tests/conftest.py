"""Shared fixtures: the tiny synthetic KuaiRec, generated once per test session, and what derives from it.

Each fixture calls the library directly (no Snakemake), so unit tests of a stage need only the stages
before it. The workflow tests (test_workflow.py) run the same steps through Snakemake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmrec.config import validate_config
from vmrec.contracts import RAW_SUBDIR

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return validate_config({"scale": "tiny"})


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory, tiny_config) -> Path:
    """Root of a tiny synthetic KuaiRec: <root>/KuaiRec 2.0/data/*.csv and <root>/truth/."""
    return generate_raw(tmp_path_factory.mktemp("raw"), "tiny", tiny_config)


def generate_raw(root: Path, scale: str, cfg: dict, world: str = "simple") -> Path:
    """Write a synthetic KuaiRec of `scale` and `world` with the config's generator settings into `root`."""
    from vmrec.synthetic import generate

    syn = cfg["synthetic"]
    generate(root, scale=scale, seed=syn["seed"], value_weights=syn["value_weights"],
             noise_scale=syn["noise_scale"], world=world)
    return root


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory, tiny_config) -> Path:
    """The `small` scale (~600k big rows), generated once: distributions need more than tiny."""
    return generate_raw(tmp_path_factory.mktemp("raw_small"), "small", tiny_config)


@pytest.fixture(scope="session")
def tiny_platform_raw(tmp_path_factory, tiny_config) -> Path:
    """A tiny synthetic KuaiRec of the platform world (synthetic.world: platform), generated once."""
    return generate_raw(tmp_path_factory.mktemp("raw_platform"), "tiny", tiny_config, world="platform")


@pytest.fixture(scope="session")
def small_platform_raw(tmp_path_factory, tiny_config) -> Path:
    """The `small` scale of the platform world, generated once."""
    return generate_raw(tmp_path_factory.mktemp("raw_small_platform"), "small", tiny_config, world="platform")


@pytest.fixture(scope="session")
def tiny_raw_dir(tiny_raw) -> Path:
    return tiny_raw / RAW_SUBDIR


@pytest.fixture(scope="session")
def tiny_tables(tmp_path_factory, tiny_raw_dir, tiny_config) -> Path:
    """Folder of the ingested tiny tables (<stem>.parquet)."""
    from vmrec.ingest import ingest_all

    out = tmp_path_factory.mktemp("tables")
    ingest_all(tiny_raw_dir, out, duplicates=tiny_config["ingest"]["duplicates"])
    return out


@pytest.fixture(scope="session")
def tiny_features(tmp_path_factory, tiny_tables, tiny_config) -> Path:
    """Folder with edges.parquet, columns.csv and item_features.parquet of the tiny data."""
    from vmrec.features import build_edge_table

    out = tmp_path_factory.mktemp("features")
    build_edge_table(tiny_tables, out / "edges.parquet", out / "columns.csv", out / "item_features.parquet",
                     labels=tiny_config["labels"], split=tiny_config["split"])
    return out


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory):
    """The tiny pipeline built once through Snakemake in a scratch directory (`snakemake -j2 --configfile
    config.yaml tests/tiny.yaml`), from a private copy of the workflow: a snakerun.Workflow (repo, workdir,
    run, dry_run).
    Shared by the workflow, report, interrupt and cluster tests; tests that change it restore it."""
    from snakerun import Workflow, copy_workflow

    base = tmp_path_factory.mktemp("tiny_pipeline")
    wf = Workflow(repo=copy_workflow(base / "repo"), workdir=base / "wd")
    target = wf.choose_targets()
    if target != "all":
        import warnings

        warnings.warn(f"the DAG of `all` is incomplete: workflow tests build up to {target!r}", stacklevel=1)
    wf.run("-j2")
    return wf

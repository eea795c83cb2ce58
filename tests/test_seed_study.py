"""The seed study (seed_study.smk, vmrec.seed_study): the planted w* of each seed, each run's config, the
gather on fabricated run outputs, config errors, a dry run (one job per seed) and a failed seed's report.
No test here runs the real pipeline (README "Seed study" has the measured run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakerun import ROOT, copy_workflow, env, jobs_of

from vmrec.config import ConfigError, dataset_name, validate_config
from vmrec.contracts import HEADS
from vmrec.seed_study import (
    SeedRunError,
    draw_w_star,
    failed_rules,
    gather,
    higher_is_worse,
    recovery_numbers,
    run_seed,
    seed_run_config,
    seeds,
    stats_table,
    study_dir,
    summary_table,
    weights_numbers,
)

DEFAULT_STUDY = validate_config({})["seed_study"]


def _config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


# --- the planted w* ----------------------------------------------------------------------------------------
def test_w_star_draw_is_deterministic_and_respects_the_distribution():
    dist = DEFAULT_STUDY["w_star"]
    raw = {**dist, "norm": None}
    draws = np.array([[draw_w_star(s, raw)[h] for h in HEADS] for s in range(400)])
    again = np.array([[draw_w_star(s, raw)[h] for h in HEADS] for s in range(400)])
    assert np.array_equal(draws, again), "the same seed drew another w*"
    assert len({tuple(r) for r in draws}) == 400, "two seeds drew the same w*"
    for k, h in enumerate(HEADS):
        low, high = dist["ranges"][h]
        col = draws[:, k]
        assert col.min() >= low and col.max() <= high, f"{h} outside [{low}, {high}]"
        # uniform: mean near the midpoint, both ends of the range reached
        assert abs(col.mean() - (low + high) / 2) < 0.1 * (high - low), (h, col.mean())
        assert col.min() < low + 0.05 * (high - low) and col.max() > high - 0.05 * (high - low), h
    assert (draws[:, HEADS.index("y_complete")] > 0).all()
    # scaled to the stated norm, same direction as the raw draw
    for s in range(20):
        w = np.array([draw_w_star(s, dist)[h] for h in HEADS])
        assert np.linalg.norm(w) == pytest.approx(dist["norm"], abs=1e-5)
        assert np.allclose(w / np.linalg.norm(w), draws[s] / np.linalg.norm(draws[s]), atol=1e-5)
    # low == high fixes a head's weight (before scaling)
    fixed = {"norm": None, "ranges": {**dist["ranges"], "y_neg": [-1.0, -1.0]}}
    assert {draw_w_star(s, fixed)["y_neg"] for s in range(10)} == {-1.0}


def test_seed_run_config_merges_the_study_settings_and_sets_the_seed(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"scale": "full", "value_model": {"bootstrap": 3},
                                     "seed_study": {"n_seeds": 99}}), encoding="utf-8")
    config = _config()
    config["seed_study"] = {"n_seeds": 2, "first_seed": 3, "scale": "tiny", "configfiles": [str(extra)],
                            "overrides": {"evaluate": {"bootstrap": 7}}}
    cfg = seed_run_config(config, 4)
    assert "seed_study" not in cfg
    assert cfg["scale"] == "tiny" and cfg["dataset"] == "synthetic" and cfg["run_name"] == "seed4"
    assert cfg["synthetic"]["seed"] == 4
    assert cfg["synthetic"]["value_weights"] == draw_w_star(4, DEFAULT_STUDY["w_star"])
    assert cfg["value_model"]["bootstrap"] == 3 and cfg["evaluate"]["bootstrap"] == 7
    assert cfg["labels"] == config["labels"]  # the rest of the config as it was
    world = validate_config(config)["synthetic"]["world"]  # config.yaml's world
    suffix = "" if world == "simple" else f"-{world}"
    assert dataset_name(validate_config(cfg)) == f"synthetic-tiny{suffix}-seed4"
    assert seeds(validate_config(config)["seed_study"]) == [3, 4]
    assert seed_run_config(config, 4) == cfg, "not deterministic"


def test_run_name_suffixes_the_dataset_name():
    simple = {"scale": "tiny", "synthetic": {"world": "simple"}}
    assert dataset_name(validate_config(simple)) == "synthetic-tiny"
    assert dataset_name(validate_config({**simple, "run_name": "seed3"})) == "synthetic-tiny-seed3"
    assert dataset_name(validate_config({"dataset": "kuairec", "run_name": "a_1"})) == "kuairec-a_1"


def test_a_world_other_than_simple_names_its_own_folders():
    platform = {"scale": "tiny", "synthetic": {"world": "platform"}}
    assert dataset_name(validate_config(platform)) == "synthetic-tiny-platform"
    assert dataset_name(validate_config({"scale": "tiny"})) == "synthetic-tiny-platform"  # the default world
    assert dataset_name(validate_config({**platform, "run_name": "seed3"})) == "synthetic-tiny-platform-seed3"
    simple = {"scale": "tiny", "synthetic": {"world": "simple"}}
    assert dataset_name(validate_config(simple)) == "synthetic-tiny"


# --- config errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("study", "match"), [
    ({"n_seeds": 0}, r"seed_study.n_seeds"),
    ({"first_seed": -1}, r"seed_study.first_seed"),
    ({"scale": "huge"}, r"seed_study.scale.*'huge'.*tiny"),
    ({"cores_per_seed": 0}, r"seed_study.cores_per_seed"),
    ({"n_sedes": 3}, r"n_sedes.*seed_study"),
    ({"w_star": {"norm": 0}}, r"seed_study.w_star.norm"),
    ({"w_star": {"ranges": {"y_complete": [1, 2], "y_long": [0, 1], "y_rewatch": [0, 1]}}}, r"y_neg"),
    ({"w_star": {"ranges": {**DEFAULT_STUDY["w_star"]["ranges"], "y_long": [1.0, 0.0]}}},
     r"seed_study.w_star.ranges.y_long.*low must be <= high"),
    ({"w_star": {"ranges": {**DEFAULT_STUDY["w_star"]["ranges"], "y_long": [0.0, 0.5, 1.0]}}},
     r"seed_study.w_star.ranges.y_long"),
    ({"w_star": {"ranges": {**DEFAULT_STUDY["w_star"]["ranges"], "y_complete": [0.0, 1.0]}}},
     r"seed_study.w_star.ranges.y_complete.*> 0"),
    ({"configfiles": "tests/tiny.yaml"}, r"seed_study.configfiles"),
])
def test_bad_seed_study_values_name_the_key(study, match):
    with pytest.raises(ConfigError, match=match):
        validate_config({"seed_study": study})


def test_bad_run_name_and_bad_per_run_settings_are_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"run_name"):
        validate_config({"run_name": "../elsewhere"})
    config = _config()
    config["seed_study"] = {"configfiles": [str(tmp_path / "missing.yaml")]}
    with pytest.raises(ConfigError, match=r"seed_study.configfiles\[0\].*missing.yaml"):
        seed_run_config(config, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {epochs: 0}\n", encoding="utf-8")
    config["seed_study"] = {"configfiles": [str(bad)]}
    with pytest.raises(ConfigError, match=r"(?s)run of seed 1.*bad.yaml.*models.epochs"):
        seed_run_config(config, 1)


# --- the gather --------------------------------------------------------------------------------------------
ANGLES = {1: 10.0, 2: 30.0, 3: 20.0}  # embedding matching, per seed
METHOD_TAU = {1: 0.8, 2: 0.4, 3: 0.6}
AUC = {  # seed -> model -> test AUC of every head
    1: {"logreg": 0.70, "mf_h64": 0.80, "oracle": 0.90},
    2: {"logreg": 0.72, "mf_h64": 0.76, "oracle": 0.95},
    3: {"logreg": 0.71, "mf_h64": 0.78, "oracle": 0.85},
}


def _fabricate_run(root: Path, seed: int, with_method: bool = True) -> Path:
    """results/synthetic-tiny-seed<N>/ with a weights.json and a metrics.csv, and its run record."""
    name = f"synthetic-tiny-seed{seed}"
    w = draw_w_star(seed, DEFAULT_STUDY["w_star"])
    v = np.array([w[h] for h in HEADS])
    weights = {
        "w_hat": dict(zip(HEADS, [0.5] * 4, strict=True)),
        "reference": {"uniform": {"w": {}, "angle_error_deg": 45.0 + seed},
                      "plackett_luce": None, "plackett_luce_note": "text",
                      "logged_pools": {"w": {}, "angle_error_deg": 2.0 * seed}},
        "w_star": dict(zip(HEADS, (v / np.linalg.norm(v)).tolist(), strict=True)),
        "angle_error_deg": ANGLES[seed],
        "interval_coverage": 0.75,
    }
    if with_method:
        weights["methods"] = {"plackett luce": {
            "w": {}, "intervals": None, "angle_error_deg": ANGLES[seed] / 2,
            "interval_coverage": float("nan"), "kendall_tau": METHOD_TAU[seed], "top10_overlap": 0.9}}
    res = root / "results" / name
    (res / "value_model").mkdir(parents=True)
    (res / "value_model" / "weights.json").write_text(json.dumps(weights), encoding="utf-8")
    rows = []
    for model, test_auc in AUC[seed].items():
        for k, h in enumerate(HEADS):
            val_auc = {"logreg": 0.7, "mf_h64": 0.8, "oracle": 0.99}[model]  # oracle is never the best
            for split, value in (("val", val_auc), ("test", test_auc + 0.01 * k), ("small", test_auc - 0.1)):
                rows.append({"model": model, "split": split, "head": h, "metric": "auc", "value": value,
                             "ci_low": value - 0.01, "ci_high": value + 0.01})
                rows.append({"model": model, "split": split, "head": h, "metric": "logloss", "value": 0.5,
                             "ci_low": 0.4, "ci_high": 0.6})
    (res / "report").mkdir()
    pd.DataFrame(rows).to_csv(res / "report" / "metrics.csv", index=False)
    record = root / "results" / "seed_study" / "runs" / f"seed{seed}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"seed": seed, "run": f"seed{seed}", "dataset": name,
                                  "results": f"results/{name}", "config": "c.yaml", "w_star": w}),
                      encoding="utf-8")
    return record


def test_gather_writes_summary_table_and_figure(tmp_path):
    records = [_fabricate_run(tmp_path, s, with_method=s != 3) for s in (1, 2, 3)]
    out = tmp_path / "results" / "seed_study"
    summary, table = gather(records, out / "summary.csv", out / "table.csv", out / "seed_study.png",
                            root=tmp_path)
    assert (out / "seed_study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(out / "summary.csv")["seed"].tolist() == [1, 2, 3]
    written = pd.read_csv(out / "table.csv").set_index("metric")
    assert list(summary["best_model"]) == ["mf_h64"] * 3
    for s in (1, 2, 3):  # the planted w*, as a unit vector
        w = np.array([summary.loc[s - 1, f"w_star.{h}"] for h in HEADS])
        assert np.linalg.norm(w) == pytest.approx(1.0)

    angle = written.loc["angle_error_deg"]
    assert angle["n"] == 3 and angle["mean"] == pytest.approx(20.0)
    assert angle["sd"] == pytest.approx(10.0) and angle["min"] == 10.0 and angle["max"] == 30.0
    assert angle["worst"] == 30.0 and angle["worst_seed"] == 2 and angle["worse"] == "higher"
    # a method seed 3 lacks: over the two seeds that have it; the worst of a rank agreement is its lowest
    tau = written.loc["methods.plackett luce.kendall_tau"]
    assert tau["n"] == 2 and tau["mean"] == pytest.approx(0.6) and tau["worst"] == 0.4
    assert tau["worst_seed"] == 2 and tau["worse"] == "lower"
    assert written.loc["methods.plackett luce.interval_coverage", "n"] == 0  # NaN in every run
    assert written.loc["reference.logged_pools.angle_error_deg", "worst"] == 6.0
    assert "reference.plackett_luce.angle_error_deg" not in written.index  # null entry: skipped
    # metrics.csv: mean over heads per model and split; best model's share of the oracle
    heads_mean = 0.01 * np.mean(range(len(HEADS)))
    auc = written.loc["auc_test.mf_h64"]
    assert auc["mean"] == pytest.approx(np.mean([0.80, 0.76, 0.78]) + heads_mean)
    assert auc["worst"] == pytest.approx(0.76 + heads_mean) and auc["worst_seed"] == 2
    assert written.loc["auc_small.logreg", "mean"] == pytest.approx(0.61)  # test - 0.1
    share = [np.mean([(AUC[s]["mf_h64"] + 0.01 * k) / (AUC[s]["oracle"] + 0.01 * k) for k in range(4)])
             for s in (1, 2, 3)]
    row = written.loc["oracle_share_test.best"]
    assert row["mean"] == pytest.approx(np.mean(share)) and row["worst"] == pytest.approx(min(share))
    assert row["sd"] == pytest.approx(np.std(share, ddof=1))
    assert not [m for m in written.index if "logloss" in m or m.startswith("w_star")]


def test_weights_numbers_skip_what_is_absent():
    assert weights_numbers({}) == {}
    assert weights_numbers({"methods": None, "reference": {"a": None, "b": {"w": {}}},
                            "angle_error_deg": None, "interval_coverage": True}) == {}
    assert weights_numbers({"agreement": {"angle_between_deg": 30.0, "at_least_one_off_by_deg": 15.0,
                                          "coverage_across_methods": 0.75}}) == {
        "agreement.at_least_one_off_by_deg": 15.0, "agreement.coverage_across_methods": 0.75}
    assert higher_is_worse("agreement.at_least_one_off_by_deg")
    assert not higher_is_worse("agreement.coverage_across_methods")
    table = stats_table(summary_table([{"seed": 1, "x.angle_error_deg": 3.0}]))
    assert table.loc[0, "n"] == 1 and np.isnan(table.loc[0, "sd"]) and table.loc[0, "worst"] == 3.0


def test_recovery_numbers_per_method():
    rec = pd.DataFrame({"method": ["pl", "pl", "unknown"], "angle_deg": [1.0, 3.0, 9.0],
                        "kendall_tau": [0.99, 0.97, np.nan], "coverage": [1.0, 0.5, 0.25]})
    got = recovery_numbers(rec)
    assert got == pytest.approx({"recovery.pl.mean_angle_deg": 2.0, "recovery.pl.worst_angle_deg": 3.0,
                                 "recovery.pl.mean_kendall_tau": 0.98, "recovery.pl.mean_coverage": 0.75,
                                 "recovery.unknown.mean_angle_deg": 9.0,
                                 "recovery.unknown.worst_angle_deg": 9.0,
                                 "recovery.unknown.mean_coverage": 0.25})
    worse = {**got, "recovery.pl.worst_angle_deg": 5.0}
    table = stats_table(summary_table([{"seed": 1, **got}, {"seed": 2, **worse}]))
    row = table.set_index("metric").loc["recovery.pl.worst_angle_deg"]
    assert row["worse"] == "higher" and row["worst"] == 5.0 and row["worst_seed"] == 2
    with pytest.raises(ValueError, match="lacks columns"):
        recovery_numbers(rec.drop(columns="angle_deg"))


def test_gather_refuses_a_run_of_another_w_star(tmp_path):
    record = _fabricate_run(tmp_path, 1)
    data = json.loads(record.read_text(encoding="utf-8"))
    data["w_star"] = draw_w_star(2, DEFAULT_STUDY["w_star"])
    record.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"weights.json.*not the planted w\* of seed 1"):
        gather([record], out / "s.csv", out / "t.csv", out / "f.png", root=tmp_path)


# --- the workflow: one job per seed; a failed seed names itself and its logs -------------------------------
def test_dry_run_lists_one_job_per_seed(tmp_path):
    repo = copy_workflow(tmp_path / "repo")
    extra = tmp_path / "study.yaml"
    extra.write_text(yaml.safe_dump({"seed_study": {"n_seeds": 3, "first_seed": 7}}), encoding="utf-8")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(repo / "seed_study.smk"), "--directory",
           str(tmp_path / "wd"), "--configfile", str(repo / "config.yaml"), str(extra), "-n"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert jobs_of(out) == {"seed_config": 3, "seed_run": 3, "seed_study": 1}, out[-3000:]
    study = study_dir(validate_config(yaml.safe_load((repo / "config.yaml").read_text(encoding="utf-8"))))
    assert study in ("results/seed_study-platform", "results/seed_study")  # config.yaml's world's folder
    for seed in (7, 8, 9):
        assert f"{study}/runs/seed{seed}.json" in out
    assert "seed6" not in out and "seed10" not in out


def test_failed_rules_are_read_from_snakemake_output():
    out = ("Error in rule train:\n    message: None\n    jobid: 5\n"
           "    log: results/x/logs/train/mf_h64.log (check log file(s) for error details)\n"
           "Error in rule ingest:\n    jobid: 2\n")
    assert failed_rules(out) == [("train", "results/x/logs/train/mf_h64.log"), ("ingest", "")]


FAKE_SNAKEFILE = """
rule all:
    input: "out.txt"

rule make_out:
    output: "out.txt"
    log: "logs/make_out.log"
    shell: "echo {config[run_name]} > {log}; test ! -e broken && echo done > {output}"
"""


def test_run_seed_reports_a_failed_seed_with_its_logs(tmp_path):
    (tmp_path / "Snakefile").write_text(FAKE_SNAKEFILE, encoding="utf-8")
    (tmp_path / "broken").touch()  # the fake pipeline fails while this file exists
    cfg = {"scale": "tiny", "run_name": "seed4",
           "synthetic": {"seed": 4, "value_weights": draw_w_star(4, DEFAULT_STUDY["w_star"])}}
    config_file = tmp_path / "seed4.yaml"
    config_file.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    kwargs = {"seed": 4, "snakefile": tmp_path / "Snakefile", "config_file": config_file,
              "marker": tmp_path / "runs" / "seed4.json", "snakemake_log": tmp_path / "seed4.snakemake.log",
              "cores": 1, "workdir": tmp_path}
    with pytest.raises(SeedRunError) as e:
        run_seed(**kwargs)
    msg = str(e.value)
    assert "seed 4" in msg and "results/synthetic-tiny-platform-seed4/" in msg  # the default world
    assert "make_out (log: logs/make_out.log)" in msg and str(kwargs["snakemake_log"]) in msg
    assert not kwargs["marker"].exists()
    (tmp_path / "broken").unlink()  # fixed: the same call finishes and records the run
    record = run_seed(**kwargs)
    assert json.loads(kwargs["marker"].read_text(encoding="utf-8")) == record
    assert record["results"] == "results/synthetic-tiny-platform-seed4"
    assert record["w_star"] == cfg["synthetic"]["value_weights"]


def test_two_studies_side_by_side(tmp_path):
    """python -m vmrec.seed_study LABEL=FOLDER ... --out PREFIX: per headline number one row per study
    (in the order given), and the figure; a study without its summary is named."""
    from vmrec.seed_study import main

    rows = [{"seed": s, "run": f"seed{s}", "dataset": "d", "best_model": "m", "angle_error_deg": a,
             "auc_test.best": 0.7 + s / 100} for s, a in ((1, 10.0), (2, 30.0))]
    for label, shift in (("simple", 0.0), ("platform", 5.0)):
        (tmp_path / label).mkdir()
        summary = summary_table([{**r, "angle_error_deg": r["angle_error_deg"] + shift} for r in rows])
        summary.to_csv(tmp_path / label / "summary.csv", index=False)
    out = tmp_path / "cmp"
    studies = [f"simple={tmp_path / 'simple'}", f"platform={tmp_path / 'platform'}"]
    assert main([*studies, "--out", str(out)]) == 0
    table = pd.read_csv(f"{out}.csv")
    assert list(table["study"][:2]) == ["simple", "platform"]
    assert list(table["metric"][:2]) == ["angle_error_deg"] * 2
    assert list(table["mean"][:2]) == [20.0, 25.0] and list(table["worst"][:2]) == [30.0, 35.0]
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileNotFoundError, match="study 'x': no .*summary.csv"):
        main([f"x={tmp_path / 'nothing'}", "--out", str(out)])
    with pytest.raises(SystemExit):
        main(["no-label", "--out", str(out)])

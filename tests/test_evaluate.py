"""Evaluation: metric definitions, bootstrap intervals, order invariance, references, figures, and the
per-model job structure of the workflow (adding a hidden size adds jobs for it only)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fake_edges import make_fake_edges
from sklearn.metrics import log_loss, roc_auc_score
from snakerun import tiny_dataset

from vmrec.contracts import HEADS, METRIC_COLUMNS, PROB_COLUMNS
from vmrec.evaluate import (
    duration_baseline,
    evaluate_frame,
    oracle_predictions,
    plot_auc,
    plot_calibration,
    plot_curves,
    plot_roc,
)
from vmrec.metrics import auc, ece, logloss, per_user_auc

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def frame():
    edges, truth = make_fake_edges(n_users=80, n_videos=100, n_big=8000, n_small=2000, seed=2)
    f = edges[edges["split"] != "train"][["edge_id", "split", "user_id", *HEADS]].merge(truth, on="edge_id")
    f["split"] = f["split"].astype(str)
    return f


def test_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    p = np.round(rng.random(2000), 2)  # many ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    w = rng.integers(0, 3, 2000)
    assert auc(y, p, w) == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert logloss(y, p) == pytest.approx(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)), abs=1e-9)
    assert np.isnan(auc(np.ones(5), np.arange(5)))


def test_ece_and_gauc_by_hand():
    # perfectly calibrated bins -> 0; all predictions 0.9 with a 0.5 rate -> 0.4
    assert ece(np.array([1, 0] * 50), np.full(100, 0.9)) == pytest.approx(0.4)
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    s = np.array([0.9, 0.1, 0.2, 0.8, 0.5, 0.6, 0.3, 0.4])
    u = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # user 2 only positives, user 3 only negatives
    aucs, dropped = per_user_auc(y, s, u)
    assert dropped == 2 and sorted(aucs.tolist()) == [0.0, 1.0]


def test_evaluate_frame_is_tidy_with_intervals(frame):
    m = evaluate_frame("oracle", frame, ["val", "small"], n_boot=50, seed=0)
    assert list(m.columns) == list(METRIC_COLUMNS)
    assert set(m["split"]) == {"val", "small"} and set(m["head"]) == set(HEADS)
    main = m[m["metric"].isin(["auc", "gauc", "logloss", "ece"])]
    assert len(main) == 2 * 4 * 4
    # ECE is biased upwards under resampling, so only the unbiased metrics must bracket their value
    unb = main[main["metric"] != "ece"]
    assert (unb["ci_low"] <= unb["value"] + 1e-9).all() and (unb["value"] <= unb["ci_high"] + 1e-9).all()
    assert (main["ci_low"] <= main["ci_high"]).all()
    dropped = m[m["metric"] == "gauc_dropped_users"]["value"]
    assert (dropped >= 0).all()


def test_metrics_do_not_depend_on_row_order(frame):
    a = evaluate_frame("m", frame, ["val", "test"], n_boot=30, seed=1)
    b = evaluate_frame("m", frame.sample(frac=1, random_state=7), ["val", "test"], n_boot=30, seed=1)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)


def test_duration_baseline_is_fitted_on_train_only():
    edges, _ = make_fake_edges(n_users=50, n_videos=60, n_big=5000, n_small=500, seed=0)
    base = duration_baseline(edges)
    assert set(base["split"]) == {"val", "test", "small"}
    e2 = edges.copy()
    e2.loc[e2["split"] != "train", list(HEADS)] = 1  # labels outside train never reach the baseline
    pd.testing.assert_frame_equal(base, duration_baseline(e2))
    assert base[list(PROB_COLUMNS)].min().min() > 0


def test_oracle_is_skipped_when_thresholds_differ(tmp_path, caplog):
    (tmp_path / "truth.json").write_text(json.dumps({"label_thresholds": {
        "complete_ratio": 0.9, "long_seconds": 18.0, "rewatch_ratio": 2.0, "neg_seconds": 3.0}}))
    edges, _ = make_fake_edges(n_users=20, n_videos=30, n_big=500, n_small=50)
    labels = {"complete_ratio": 0.9, "long_seconds": 18.0, "rewatch_ratio": 1.5, "neg_seconds": 3.0}
    with caplog.at_level("WARNING", logger="vmrec"):
        assert oracle_predictions(edges, tmp_path, labels) is None
    assert "rewatch_ratio" in caplog.text and "oracle skipped" in caplog.text


def test_oracle_of_tiny_synthetic(tiny_features, tiny_raw, tiny_config):
    edges = pd.read_parquet(tiny_features / "edges.parquet")
    o = oracle_predictions(edges, tiny_raw / "truth", tiny_config["labels"])
    assert len(o) == int((edges["split"] != "train").sum())
    assert o[list(PROB_COLUMNS)].notna().all().all()


def test_figures_are_written(frame, tmp_path):
    m = evaluate_frame("oracle", frame, ["val", "small"], n_boot=10, seed=0)
    frames = {"oracle": frame}
    curve = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.9], "val_loss": [1.1, 1.0],
                          **{f"val_auc_{h}": [0.6, 0.65] for h in HEADS}})
    for name, draw in {"auc": lambda p: plot_auc(m, p), "roc": lambda p: plot_roc(frames, "small", p),
                       "cal": lambda p: plot_calibration(frames, "small", p),
                       "curves": lambda p: plot_curves({"m": curve}, p)}.items():
        path = tmp_path / f"{name}.png"
        draw(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _snakemake(workdir: Path, dims: list[int], *args: str, lightgcn: tuple[int, ...] = (64,)) -> str:
    cfg = workdir / "dims.yaml"
    cfg.write_text(f"scale: tiny\nmodels:\n  hidden_dims: {dims}\n  lightgcn_dims: {list(lightgcn)}\n")
    models = ["logreg", "edge_mlp", *(f"lightgcn_h{d}" for d in lightgcn), *(f"gnn_h{d}" for d in dims)]
    dataset = tiny_dataset()  # config.yaml's world at the tiny scale
    targets = [f"results/{dataset}/metrics/{m}.csv" for m in models]
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(ROOT / "config.yaml"), str(cfg), "--cores", "1", *args, *targets],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


def _jobs(text: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of each job of a dry run's output."""
    jobs, rule = [], None
    for line in text.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
            jobs.append((rule, ""))
        elif line.strip().startswith("wildcards:") and jobs:
            jobs[-1] = (rule, line.split(":", 1)[1].strip())
    return jobs


@pytest.mark.workflow
def test_adding_a_hidden_size_adds_jobs_for_it_only(tmp_path):
    """Record a finished run (every output present, metadata via --touch), then add a hidden size:
    only the new model's sweep/select/train/evaluate jobs are scheduled (params are per model)."""
    plan = _snakemake(tmp_path, [16], "-n", "--forceall")
    for line in plan.splitlines():
        if line.strip().startswith("output:"):
            for f in line.split(":", 1)[1].split(", "):
                path = tmp_path / f.strip()
                if path.name == "truth":
                    path.mkdir(parents=True, exist_ok=True)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
    _snakemake(tmp_path, [16], "--touch", "--forceall")
    assert _jobs(_snakemake(tmp_path, [16], "-n")) == []  # up to date
    new = _jobs(_snakemake(tmp_path, [16, 32], "-n"))
    assert {r for r, _ in new} == {"sweep", "select", "train", "evaluate"}, new
    assert all("model=gnn_h32" in w for _, w in new), new
    new = _jobs(_snakemake(tmp_path, [16], "-n", lightgcn=(64, 32)))  # the same for a LightGCN size
    assert {r for r, _ in new} == {"sweep", "select", "train", "evaluate"}, new
    assert all("model=lightgcn_h32" in w for _, w in new), new


def test_paired_auc_difference_matches_a_hand_computation():
    """AUC(a) - AUC(b) on the same rows, and under a resample given as row counts: by hand, with the
    resampled rows written out (ties count half)."""
    from vmrec.metrics import paired_auc_diff

    y = np.array([0, 0, 1, 1, 0, 1])
    a = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    b = np.array([0.5, 0.1, 0.5, 0.3, 0.6, 0.7])
    # a: positives {.35, .8, .9} vs negatives {.1, .4, .2}: 8 of 9 pairs ordered -> 8/9
    # b: positives {.5, .3, .7} vs negatives {.5, .1, .6}: .5>.1, .5=.5 (half), .3>.1, .7>all -> 5.5/9
    counts = np.array([[2, 0, 1, 0, 1, 1]], dtype=np.float32)  # rows 0, 0, 2, 4, 5
    diff, boot = paired_auc_diff(y, a, b, [counts])
    assert diff == pytest.approx(8 / 9 - 5.5 / 9)
    # resample: negatives rows 0, 0, 4 (a: .1, .1, .2; b: .5, .5, .6), positives rows 2, 5
    # a: .35 and .9 beat all three -> 6/6; b: .5 ties .5 twice (1), loses to .6; .7 beats all (3) -> 4/6
    assert boot.shape == (1,)
    assert boot[0] == pytest.approx(1.0 - 4 / 6)
    idx = np.repeat(np.arange(6), counts[0].astype(int))
    assert boot[0] == pytest.approx(roc_auc_score(y[idx], a[idx]) - roc_auc_score(y[idx], b[idx]))


def test_paired_frame_against_the_best_non_graph_model():
    """paired.csv rows: each model against the baseline per split and head; the interval is the percentile
    interval of the paired resampled differences (the same draws as paired_auc_diff's)."""
    from vmrec.evaluate import PAIRED_COLUMNS, best_non_graph_model, paired_frame
    from vmrec.metrics import bootstrap_counts, paired_auc_diff

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, (n, len(HEADS)))
    base = pd.DataFrame({"edge_id": np.arange(n), "split": "test", **dict(zip(HEADS, y.T, strict=True))})
    frames = {}
    for m, noise in (("mf_h64", 1.0), ("edge_mlp", 2.0), ("lightgcn_h64", 0.5)):
        p = 1 / (1 + np.exp(-(y - 0.5 + noise * rng.normal(size=y.shape))))
        frames[m] = base.assign(**dict(zip(PROB_COLUMNS, p.T, strict=True)))
    metrics = pd.DataFrame([{"model": m, "split": "val", "head": h, "metric": "auc", "value": v}
                            for m, v in (("mf_h64", .8), ("edge_mlp", .7), ("lightgcn_h64", .9))
                            for h in HEADS])
    assert best_non_graph_model(metrics, list(frames)) == "mf_h64"  # lightgcn is a graph model
    out = paired_frame(frames, "mf_h64", ["test"], n_boot=50, seed=3)
    assert list(out.columns) == list(PAIRED_COLUMNS)
    assert set(out["model"]) == {"edge_mlp", "lightgcn_h64"} and len(out) == 2 * len(HEADS)
    row = out[(out["model"] == "lightgcn_h64") & (out["head"] == "y_neg")].iloc[0]
    k = HEADS.index("y_neg")
    counts = list(bootstrap_counts(np.random.default_rng([3, 0]), n, 50))
    diff, boot = paired_auc_diff(y[:, k], frames["lightgcn_h64"][PROB_COLUMNS[k]].to_numpy(),
                                 frames["mf_h64"][PROB_COLUMNS[k]].to_numpy(), counts)
    assert row["diff"] == pytest.approx(diff)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(np.percentile(boot, [2.5, 97.5])))
    assert row["ci_low"] > 0  # less noise: clearly better than the baseline

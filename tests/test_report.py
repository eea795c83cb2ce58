"""`make report` (`snakemake --report report.html`) builds a self-contained HTML report that a browser
opens: headless Chromium renders it, the headline numbers are on its front page, and no image is broken.
Also unit tests of the headline table (vmrec.htmlreport)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import types
from pathlib import Path

import pandas as pd
import pytest

from vmrec.htmlreport import (
    fit_rows,
    gather,
    headline_rst,
    lift_rows,
    metric_rows,
    recovery_rows,
    reference_rows,
    weight_rows,
    write_headline,
)

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def test_headline_takes_test_auc_per_model_and_head(tmp_path):
    metrics = pd.DataFrame({
        "model": ["logreg", "logreg", "gnn_h16", "gnn_h16"], "split": ["test", "val", "test", "test"],
        "head": ["y_complete", "y_complete", "y_complete", "y_neg"],
        "metric": ["auc", "auc", "auc", "logloss"],
        "value": [0.71, 0.9, 0.78, 0.3], "ci_low": [0.7, 0.8, 0.77, 0.2], "ci_high": [0.72, 0.95, 0.79, 0.4]})
    rows = metric_rows(metrics)
    assert sorted(zip(rows["name"], rows["value"], strict=True)) == [("gnn_h16", 0.78), ("logreg", 0.71)]
    with pytest.raises(ValueError, match="lacks columns"):
        metric_rows(metrics.drop(columns="ci_low"))


def test_headline_has_the_unbiased_block_and_the_lift_against_the_oracle(tmp_path):
    metrics = pd.DataFrame({
        "model": ["mf_h64", "oracle", "mf_h64", "oracle"], "split": ["test", "test", "small", "small"],
        "head": ["y_neg"] * 4, "metric": ["auc"] * 4,
        "value": [0.7, 0.8, 0.65, 0.75], "ci_low": [0.69, 0.79, 0.64, 0.74],
        "ci_high": [0.71, 0.81, 0.66, 0.76]})
    lift = lift_rows(metrics, "small")
    assert list(lift["name"]) == ["mf_h64"]  # the oracle is the reference, not a row
    assert lift["value"].item() == pytest.approx(0.15 / 0.25)
    assert lift["ci_low"].item() == pytest.approx(0.14 / 0.25)
    assert lift_rows(metrics[metrics["model"] != "oracle"], "small").empty  # real data: no oracle
    assert lift_rows(metrics, "val").empty  # a split the table lacks gives no rows, not another split's
    mcsv = tmp_path / "m.csv"
    metrics.to_csv(mcsv, index=False)
    table = write_headline(mcsv, None, tmp_path / "h.csv", tmp_path / "h.rst", "synthetic-tiny")
    assert {"AUC (test)", "AUC (small)"} <= set(table["section"])
    assert "0.600" in (tmp_path / "h.rst").read_text()


def test_headline_says_how_close_each_method_comes_to_the_planted_weights():
    w = {"w_star": {"y_complete": 1.0}, "methods": {
        "a": {"angle_error_deg": 4.0, "interval_coverage": 0.75, "kendall_tau": 0.97, "top10_overlap": 0.9},
        "b": {"angle_error_deg": 20.0, "interval_coverage": 0.25}}}
    rows = fit_rows(w)
    assert rows.set_index(["name", "head"]).loc[("a", "angle to the planted w (deg)"), "value"] == 4.0
    assert len(rows[rows["name"] == "b"]) == 2
    assert fit_rows({"methods": w["methods"]}).empty  # real data: no planted truth, no rows
    rst = headline_rst(rows, "x")
    assert "Kendall tau" in rst and "20.000" in rst


def test_headline_gives_each_references_angle():
    """Every reference estimate with an angle gets a row (the notes and the references without an angle,
    such as a Plackett-Luce that needs unknown pools, do not)."""
    w = {"w_star": {"y_complete": 1.0}, "reference": {
        "platform_heads_pool_marginal": {"w": {}, "angle_error_deg": 2.5},
        "true_heads_plackett_luce": {"w": {}, "angle_error_deg": 11.0},
        "plackett_luce": None, "planted_heads_note": "text", "uniform": {"w": {}}}}
    rows = reference_rows(w).set_index("name")["value"]
    assert rows.to_dict() == {"platform_heads_pool_marginal": 2.5, "true_heads_plackett_luce": 11.0}
    assert reference_rows({"methods": {}}).empty


def test_headline_summarises_the_recovery_study(tmp_path):
    """Per method of recovery.csv: mean and worst angle over its runs, mean tau and coverage; the rows sit
    after the weights' fit and are read when only the recovery table exists."""
    rec = pd.DataFrame({"method": ["plackett_luce"] * 2 + ["marginal_pl_pools_unknown"] * 3,
                        "angle_deg": [0.5, 1.5, 3.0, 6.0, 12.0], "kendall_tau": [1.0, 0.98, 0.99, 0.95, 0.91],
                        "coverage": [1.0, 0.5, 1.0, 0.5, 0.0]})
    rows = recovery_rows(rec).set_index(["name", "head"])["value"]
    name = "pool-marginal PL, pools unknown (3 runs)"
    assert rows[(name, "mean angle to w* (deg)")] == pytest.approx(7.0)
    assert rows[(name, "worst angle (deg)")] == 12.0
    assert rows[(name, "mean Kendall tau")] == pytest.approx(0.95)
    assert rows[(name, "share of heads whose interval holds w*")] == pytest.approx(0.5)
    assert rows[("Plackett-Luce, pools known (2 runs)", "worst angle (deg)")] == 1.5
    rcsv = tmp_path / "recovery.csv"
    rec.to_csv(rcsv, index=False)
    table = write_headline(None, None, tmp_path / "h.csv", tmp_path / "h.rst", "synthetic-tiny",
                           recovery_csv=rcsv)
    assert len(table) == 8 and "12.000" in (tmp_path / "h.rst").read_text()


def test_headline_reads_weights_with_truth_and_intervals(tmp_path):
    w = {"estimate": {"y_complete": 0.6, "y_long": 0.4, "y_rewatch": 0.3, "y_neg": -0.6},
         "truth": {"y_complete": 0.55, "y_long": 0.44, "y_rewatch": 0.33, "y_neg": -0.66},
         "ci": {"y_complete": [0.5, 0.7]}}
    rows = weight_rows(w)
    est = rows[(rows["name"] == "estimate") & (rows["head"] == "y_neg")]
    assert est["value"].item() == -0.6
    ci = rows[(rows["name"] == "ci") & (rows["head"] == "y_complete")]
    assert (ci["ci_low"].item(), ci["ci_high"].item()) == (0.5, 0.7)
    wj = tmp_path / "w.json"
    wj.write_text(json.dumps(w))
    table = write_headline(None, wj, tmp_path / "h.csv", tmp_path / "h.rst", "synthetic-tiny")
    assert len(table) == len(rows)
    rst = (tmp_path / "h.rst").read_text()
    assert "-0.600" in rst and "synthetic-tiny" in rst
    assert "No metrics" in headline_rst(table.iloc[0:0], "x")


def test_gather_refuses_name_clashes_and_replaces_the_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "fig.png").write_bytes(d.encode())
    with pytest.raises(ValueError, match="share names"):
        gather([tmp_path / "a" / "fig.png", tmp_path / "b" / "fig.png"], tmp_path / "out")
    gather([tmp_path / "a" / "fig.png"], tmp_path / "out")
    gather([tmp_path / "b" / "fig.png"], tmp_path / "out")
    assert [p.read_bytes() for p in (tmp_path / "out").iterdir()] == [b"b"]


CHECK_JS = """
(async () => {
  await new Promise(r => setTimeout(r, 3000));
  const imgs = [...document.images];
  return JSON.stringify({
    text: document.body.innerText,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
  });
})()
"""


@pytest.mark.workflow
@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(tiny_workdir, tmp_path):
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    wf = tiny_workdir
    if wf.targets:
        pytest.skip(f"the DAG of `all` is incomplete (the tiny build stops at {wf.targets}): no report yet")
    report = tmp_path / "report.html"
    wf.run("--report", str(report))
    assert report.stat().st_size > 10_000
    html = report.read_text(encoding="utf-8", errors="replace")
    assert 'src="http' not in html, "the report loads remote assets (it must be self-contained)"
    profile = tmp_path / "chrome-profile"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--virtual-time-budget=15000", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=180)
    dom = proc.stdout
    assert proc.returncode == 0 and "<html" in dom, f"chromium failed: {proc.stderr[-2000:]}"
    # the front page: the workflow description with the headline table rendered
    headline = pd.read_csv(wf.results / "report" / "headline.csv")
    assert "Headline results" in dom, "the headline section is not on the report's front page"
    for value in headline["value"].dropna().head(8):
        assert f"{value:.3f}" in dom, f"headline number {value:.3f} not shown in the rendered report"
    # every figure is embedded, and the images the page shows load (none broken)
    figures = sorted((wf.results / "report" / "figures").glob("*.png"))
    for fig in figures:
        assert fig.name in html, f"figure {fig.name} missing from the report"
    broken = [m for m in re.findall(r"<img[^>]*>", dom) if 'src=""' in m]
    assert not broken, f"broken images: {broken[:3]}"


@pytest.mark.parametrize("cfg", [
    {"scale": "tiny"},
    {"scale": "small", "synthetic": {"world": "simple"}},
    {"scale": "tiny", "run_name": "seed3"},
    {"scale": "tiny", "synthetic": {"world": "simple"}, "run_name": "seed3"},
    {"dataset": "kuairec"},
    {"dataset": "kuairec", "run_name": "a_1"},
])
def test_report_description_includes_the_runs_own_headline(cfg):
    """report/workflow.rst spells the run's folder in Jinja (Snakemake renders it with the config only):
    it must name the folder vmrec.config.dataset_name gives, for every world and run_name."""
    import jinja2

    from vmrec.config import dataset_name, validate_config

    full = validate_config(cfg)
    text = (ROOT / "report" / "workflow.rst").read_text(encoding="utf-8")
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # as Snakemake's report renders it
    rendered = env.from_string(text).render(snakemake=types.SimpleNamespace(config=full))
    includes = re.findall(r"^\.\. include:: (\S+)$", rendered, flags=re.M)
    assert includes == [f"results/{dataset_name(full)}/report/headline.rst"], rendered
    # a directive of its own: a blank line before and after it, the first line is the title
    at = rendered.splitlines().index(f".. include:: {includes[0]}")
    assert rendered.splitlines()[at - 1] == "" and rendered.splitlines()[at + 1] == ""
    assert rendered.startswith("vmrec: a multi-head value model"), rendered[:200]

"""Seed study: the synthetic pipeline over N data seeds, each with its own planted w* (seed_study.smk).

Every claim about a method should hold over several data sets and planted weights, not one. The study
runs the whole pipeline once per data seed N (synthetic.seed = N) with a planted w* drawn for that seed
(`draw_w_star`), each run in its own folders (run_name seed<N>: results/synthetic-<scale>-seed<N>/ and
data/raw/synthetic-<scale>-seed<N>/), then gathers the headline numbers of every run into one table.

Design: one job per seed runs the main workflow as a nested Snakemake (`run_seed`) with the seed's
complete config file (`seed_run_config`), exactly the run a user gets by hand with that config. Snakemake's
`module` directive (one module per seed, each with its own config) was not used: the main workflow fixes
its paths and rule set from its config while it is parsed (common.smk's globals, `if SYNTHETIC:` rules, the
validated config written back into `config`); making all of that per-module safe would change the main
workflow for the study's sake, and the DAG would hold N x ~60 jobs. A nested run needs no change to the
main workflow beyond `run_name`, keeps each seed's log, and any later rule, stage or fix applies to the study
as is. Its cost: the outer scheduler sees a seed as one job (on SLURM one allocation of `cores_per_seed`
cores runs that seed's whole DAG), and it tracks the main workflow's code by the files' times (rule
seed_run lists them as inputs): an edit reruns every seed's nested Snakemake, which then reruns only what
the edit made stale. The nested runs use --nolock: Snakemake's lock files are one shared folder that every
instance removes whole when it ends, so side-by-side instances would drop each other's locks; the outer
run's lock covers the study, and the seeds' files are disjoint.

The gather (`gather`) reads, per seed, results/<name>/value_model/weights.json and report/metrics.csv
generically (`weights_numbers`, `metrics_numbers`): keys that are absent are skipped, new methods appear
as new columns without code changes.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from vmrec.config import ConfigError, _merge, dataset_name, synthetic_world, validate_config
from vmrec.contracts import HEADS
from vmrec.io import atomic_path, write_json, write_text

log = logging.getLogger("vmrec")

STUDY_DIR = "results/seed_study"
# Second word of the w* generator's seed sequence: the draw depends on the data seed only, and its stream is
# not the one the synthetic generator derives from the same seed.
W_STAR_STREAM = 0x5EED
# Rows of metrics.csv that are references, not trained models (rules/evaluate.smk, REFERENCES).
REFERENCE_MODELS = ("oracle", "duration_baseline")
METHOD_KEYS = ("angle_error_deg", "interval_coverage", "kendall_tau", "top10_overlap")
AGREEMENT_KEYS = ("at_least_one_off_by_deg", "coverage_across_methods")
AUC_SPLITS = ("test", "small")
# Summary columns that are not headline numbers.
ID_COLUMNS = ("seed", "run", "dataset", "best_model")
W_STAR_PREFIX = "w_star."


class SeedRunError(RuntimeError):
    """A seed's pipeline run failed; the message names the seed, the failed rules and the logs."""


# --- the seeds and their planted w* -----------------------------------------------------------------------
def seeds(study: dict) -> list[int]:
    """The study's data seeds: first_seed, first_seed + 1, ..., first_seed + n_seeds - 1."""
    return list(range(int(study["first_seed"]), int(study["first_seed"]) + int(study["n_seeds"])))


def study_dir(run_config: dict) -> str:
    """The study's folder: results/seed_study for runs of the simple world, results/seed_study-<world> for
    another world (`run_config`: a seed's run config, `seed_run_config`), so that a study of each world
    keeps its own configs, records, table and figure (their runs' folders differ too: `dataset_name`)."""
    world = synthetic_world(run_config)
    return STUDY_DIR if world == "simple" else f"{STUDY_DIR}-{world}"


def run_name(seed: int) -> str:
    """run_name of seed `seed`'s run (its folders: results/synthetic-<scale>-seed<N>/)."""
    return f"seed{int(seed)}"


def draw_w_star(seed: int, w_star: dict) -> dict[str, float]:
    """The planted w* of data seed `seed` (seed_study.w_star): each head's weight uniform on its
    [low, high], drawn with numpy default_rng(SeedSequence([seed, W_STAR_STREAM])), then scaled to the L2
    norm `norm` (None: unscaled); rounded to 6 decimals, as the run's config file stores it."""
    ranges = w_star["ranges"]
    low = np.array([float(ranges[h][0]) for h in HEADS])
    high = np.array([float(ranges[h][1]) for h in HEADS])
    if np.any(low > high):
        raise ConfigError(f"key 'seed_study.w_star.ranges': low > high in {ranges}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), W_STAR_STREAM]))
    w = rng.uniform(low, high)
    norm = w_star.get("norm")
    if norm is not None:
        length = float(np.linalg.norm(w))
        if length == 0:
            raise ConfigError(f"key 'seed_study.w_star': seed {seed} drew the zero vector; make y_complete's "
                              f"low > 0 (ranges {ranges})")
        w = w * (float(norm) / length)
    return {h: round(float(x), 6) for h, x in zip(HEADS, w, strict=True)}


def unit(w: dict[str, float]) -> dict[str, float]:
    """`w` (head -> weight) scaled to unit L2 norm, in head order."""
    v = np.array([float(w[h]) for h in HEADS])
    return {h: float(x) for h, x in zip(HEADS, v / np.linalg.norm(v), strict=True)}


# --- one seed's run ---------------------------------------------------------------------------------------
def workflow_sources(basedir: str | Path) -> list[str]:
    """The main workflow's files besides its Snakefile (rules, scripts, vmrec modules, the config schema):
    inputs of rule seed_run, so that an edit reruns each seed's nested Snakemake (which reruns only what it
    made stale). The study's own files are left out: editing the gather must not rerun the seeds."""
    base = Path(basedir)
    own = {"seed_study.py", "seed_study_config.py", "seed_study_run.py", "seed_study_gather.py"}
    files = [base / "schemas" / "config.schema.yaml", *sorted((base / "rules").glob("*.smk")),
             *sorted((base / "scripts").glob("*.py")), *sorted((base / "src" / "vmrec").rglob("*.py"))]
    return [str(f) for f in files if f.name not in own and "__pycache__" not in f.parts]


def _read_yaml(path: str | Path, key: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"key '{key}': cannot read {path}: {e.strerror}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"key '{key}': {path} does not hold a mapping of config keys")
    return data


def seed_run_config(config: dict, seed: int) -> dict:
    """The complete config of seed `seed`'s run: `config` (as Snakemake merged it from the config files and
    --config, not yet validated) without its seed_study section, then the study's `configfiles` in order,
    then its `overrides`, then dataset synthetic, the study's scale, run_name seed<N>, synthetic.seed N and
    the seed's drawn w*. Raises ConfigError naming the seed and the key when the result is invalid."""
    study = validate_config(config)["seed_study"]
    cfg = {k: copy.deepcopy(v) for k, v in dict(config).items() if k != "seed_study"}
    for i, path in enumerate(study["configfiles"]):
        extra = _read_yaml(path, f"seed_study.configfiles[{i}]")
        cfg = _merge(cfg, {k: v for k, v in extra.items() if k != "seed_study"})
    cfg = _merge(cfg, {k: v for k, v in study["overrides"].items() if k != "seed_study"})
    cfg = _merge(cfg, {
        "dataset": "synthetic",
        "scale": study["scale"],
        "run_name": run_name(seed),
        "synthetic": {"seed": int(seed), "value_weights": draw_w_star(seed, study["w_star"])},
    })
    cfg = json.loads(json.dumps(cfg))  # plain types only (the file is YAML)
    try:
        validate_config(cfg)
    except ConfigError as e:
        raise ConfigError(f"seed study, the run of seed {seed} (this config, then seed_study.configfiles "
                          f"{study['configfiles']}, then seed_study.overrides): {e}") from e
    return cfg


def write_seed_config(cfg: dict, path: str | Path) -> None:
    head = (f"# The whole config of the seed study's run {cfg['run_name']} (written by rule seed_config; "
            "edit config.yaml, not this file).\n")
    write_text(head + yaml.safe_dump(cfg, sort_keys=False), path)


def snakemake_command(snakefile: str | Path, config_file: str | Path, cores: int, workdir: str | Path,
                      mem_mb: int | None = None, snakemake: Sequence[str] | None = None) -> list[str]:
    """The nested Snakemake of one seed: the main workflow on the seed's complete config file, local."""
    cmd = [*(snakemake or (sys.executable, "-m", "snakemake")), "-s", str(snakefile), "--directory",
           str(workdir), "--configfile", str(config_file), "--replace-workflow-config", "--cores", str(cores),
           "--nolock", "--workflow-profile", "none", "--rerun-incomplete", "--keep-going",
           "--printshellcmds", "--show-failed-logs", "--latency-wait", "10"]
    if mem_mb:
        cmd += ["--resources", f"mem_mb={int(mem_mb)}"]
    return cmd


def failed_rules(output: str) -> list[tuple[str, str]]:
    """(rule, its log) of every "Error in rule <name>:" block of a Snakemake output (log '' if none)."""
    found = []
    for m in re.finditer(r"^Error in rule (\S+?):?\n((?:[ \t]+.*\n?)*)", output, flags=re.M):
        logs = re.search(r"^\s*log: (.+?)(?: \(check log file\(s\) for error details\))?\s*$", m.group(2),
                         flags=re.M)
        found.append((m.group(1), logs.group(1) if logs else ""))
    return found


def describe_failure(seed: int, dataset: str, returncode: int, snakemake_log: str | Path) -> str:
    text = Path(snakemake_log).read_text(encoding="utf-8", errors="replace")
    rules = failed_rules(text)
    what = "; ".join(f"{r} (log: {lg})" if lg else r for r, lg in rules) or "none named (see its output)"
    tail = "\n".join(text.rstrip().splitlines()[-25:])
    return (f"seed study: the run of seed {seed} (results/{dataset}/) failed (snakemake exit {returncode}). "
            f"Failed rules: {what}. Its Snakemake output: {snakemake_log}. Fix the cause and rerun the same "
            f"command: finished seeds are kept, and this seed's finished steps too.\n"
            f"--- last lines of {snakemake_log} ---\n{tail}")


def run_seed(*, seed: int, snakefile: str | Path, config_file: str | Path, marker: str | Path,
             snakemake_log: str | Path, cores: int, mem_mb: int | None = None, workdir: str | Path = ".",
             snakemake: Sequence[str] | None = None) -> dict:
    """Run the main workflow for one seed (its output streamed to `snakemake_log`); on success write the
    run's record (seed, folders, planted w*, seconds) to `marker`; on failure raise SeedRunError."""
    cfg = _read_yaml(config_file, "seed_study")
    name = dataset_name(validate_config(cfg))
    cmd = snakemake_command(snakefile, config_file, cores, workdir, mem_mb, snakemake)
    env = dict(os.environ)
    env.pop("SNAKEMAKE_PROFILE", None)  # a user's cluster profile: the nested run is local to its job
    Path(snakemake_log).parent.mkdir(parents=True, exist_ok=True)
    log.info("seed %s: %s", seed, shlex.join(cmd))
    start = time.monotonic()
    with open(snakemake_log, "w", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SeedRunError(describe_failure(seed, name, proc.returncode, snakemake_log))
    record = {
        "seed": int(seed),
        "run": cfg["run_name"],
        "dataset": name,
        "results": f"results/{name}",
        "raw": f"data/raw/{name}",
        "config": str(config_file),
        "w_star": cfg["synthetic"]["value_weights"],
        "snakemake_log": str(snakemake_log),
        "seconds": round(seconds, 1),
    }
    write_json(record, marker)
    log.info("seed %s: finished in %.0f s (results/%s/)", seed, seconds, name)
    return record


# --- headline numbers of one run --------------------------------------------------------------------------
def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x)


def weights_numbers(weights: dict) -> dict[str, float]:
    """Headline numbers of a weights.json: the top-level angle_error_deg and interval_coverage, the
    `agreement` block's AGREEMENT_KEYS (as agreement.<key>), per entry of `methods` its METHOD_KEYS (as
    methods.<name>.<key>), and per `reference` entry its angle_error_deg (as
    reference.<name>.angle_error_deg). Absent keys and non-numbers (null) are skipped; NaN is kept."""
    out: dict[str, float] = {}
    for key in ("angle_error_deg", "interval_coverage"):
        if (v := _number(weights.get(key))) is not None:
            out[key] = v
    agreement = weights.get("agreement")  # the methods against each other (value_model/agreement.py)
    if isinstance(agreement, dict):
        for key in AGREEMENT_KEYS:
            if (v := _number(agreement.get(key))) is not None:
                out[f"agreement.{key}"] = v
    for section, keys in (("methods", METHOD_KEYS), ("reference", ("angle_error_deg",))):
        entries = weights.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            for key in keys:
                if (v := _number(entry.get(key))) is not None:
                    out[f"{section}.{name}.{key}"] = v
    return out


def recovery_numbers(table: pd.DataFrame) -> dict[str, float]:
    """Headline numbers of a value_model/recovery.csv (the recovery study: every planted case x noise level,
    true heads): per method its mean and worst angle to w* (recovery.<method>.mean_angle_deg,
    recovery.<method>.worst_angle_deg) and its mean Kendall tau and interval coverage where present."""
    missing = {"method", "angle_deg"} - set(table.columns)
    if missing:
        raise ValueError(f"lacks columns {sorted(missing)}; found {list(table.columns)}")
    out: dict[str, float] = {}
    for method, grp in table.groupby("method", sort=False):
        out[f"recovery.{method}.mean_angle_deg"] = float(grp["angle_deg"].mean())
        out[f"recovery.{method}.worst_angle_deg"] = float(grp["angle_deg"].max())
        for col in ("kendall_tau", "coverage"):
            if col in grp and grp[col].notna().any():
                out[f"recovery.{method}.mean_{col}"] = float(grp[col].mean())
    return out


def _mean_auc(metrics: pd.DataFrame) -> pd.DataFrame:
    """AUC rows of a tidy metrics table, one per (split, model, head)."""
    missing = {"model", "split", "head", "metric", "value"} - set(metrics.columns)
    if missing:
        raise ValueError(f"lacks columns {sorted(missing)}; found {list(metrics.columns)}")
    auc = metrics[metrics["metric"].astype(str).str.lower() == "auc"]
    return auc.assign(value=auc["value"].astype(float))


def best_model(metrics: pd.DataFrame) -> str | None:
    """The trained model with the highest mean validation AUC over the heads (value_model.model: best)."""
    auc = _mean_auc(metrics)
    val = auc[(auc["split"] == "val") & ~auc["model"].isin(REFERENCE_MODELS)]
    if val.empty:
        return None
    return str(val.groupby("model")["value"].mean().idxmax())


def metrics_numbers(metrics: pd.DataFrame) -> tuple[dict[str, float], str | None]:
    """Headline numbers of a report/metrics.csv, and the best model: per model and split of AUC_SPLITS the
    mean AUC over the heads (auc_<split>.<model>), the best model's (auc_<split>.best), and the best model's
    share of the oracle AUC (oracle_share_<split>.best: the mean over heads of model AUC / oracle AUC, as
    docs/models.md and vmrec.learnability compute it) where oracle rows exist."""
    auc = _mean_auc(metrics)
    best = best_model(metrics)
    out: dict[str, float] = {}
    for split in AUC_SPLITS:
        part = auc[auc["split"] == split]
        if part.empty:
            continue
        means = part.groupby("model", sort=False)["value"].mean()
        out.update({f"auc_{split}.{m}": float(v) for m, v in means.items()})
        if best is None or best not in means.index:
            continue
        out[f"auc_{split}.best"] = float(means[best])
        per_head = part.pivot_table(index="head", columns="model", values="value")
        if "oracle" in per_head.columns:
            share = (per_head[best] / per_head["oracle"]).dropna()
            if len(share):
                out[f"oracle_share_{split}.best"] = float(share.mean())
    return out, best


def run_numbers(record: dict, root: str | Path = ".") -> dict[str, Any]:
    """One summary row from a seed's run record (rule seed_run's marker): seed, run, planted w* (unit) and
    the headline numbers of its weights.json, metrics.csv (a missing file is skipped with a warning) and
    recovery.csv (where the run has one)."""
    results = Path(root) / record["results"]
    planted = unit(record["w_star"])
    row: dict[str, Any] = {"seed": int(record["seed"]), "run": record["run"], "dataset": record["dataset"],
                           "best_model": None, **{f"{W_STAR_PREFIX}{h}": planted[h] for h in HEADS}}
    weights_path = results / "value_model" / "weights.json"
    if weights_path.is_file():
        weights = json.loads(weights_path.read_text(encoding="utf-8"))
        stored = weights.get("w_star")
        if isinstance(stored, dict) and all(_number(stored.get(h)) is not None for h in HEADS):
            gap = max(abs(float(stored[h]) - planted[h]) for h in HEADS)
            if gap > 1e-4:
                raise ValueError(f"{weights_path}: its w_star {stored} is not the planted w* of seed "
                                 f"{record['seed']} ({record['config']}: unit {planted}); was the run made "
                                 f"with another config?")
        row.update(weights_numbers(weights))
    else:
        log.warning("seed %s: no %s; its value-model numbers are left out", record["seed"], weights_path)
    metrics_path = results / "report" / "metrics.csv"
    if metrics_path.is_file():
        try:
            numbers, best = metrics_numbers(pd.read_csv(metrics_path))
        except ValueError as e:
            raise ValueError(f"{metrics_path}: {e}") from e
        row["best_model"] = best
        row.update(numbers)
    else:
        log.warning("seed %s: no %s; its model numbers are left out", record["seed"], metrics_path)
    recovery_path = results / "value_model" / "recovery.csv"
    if recovery_path.is_file():
        try:
            row.update(recovery_numbers(pd.read_csv(recovery_path)))
        except ValueError as e:
            raise ValueError(f"{recovery_path}: {e}") from e
    return row


# --- the gather -------------------------------------------------------------------------------------------
def summary_table(rows: list[dict]) -> pd.DataFrame:
    """One row per seed (sorted by seed); columns: ID_COLUMNS, the unit w*, then every headline number in
    the order first met (a number a run lacks is NaN there)."""
    cols: list[str] = []
    for row in rows:
        cols += [c for c in row if c not in cols]
    table = pd.DataFrame(rows, columns=cols)
    return table.sort_values("seed", kind="stable").reset_index(drop=True)


def headline_columns(summary: pd.DataFrame) -> list[str]:
    return [c for c in summary.columns if c not in ID_COLUMNS and not c.startswith(W_STAR_PREFIX)]


def higher_is_worse(metric: str) -> bool:
    """Angle errors (and the methods' bound on them) are better low; AUCs, shares, coverage, Kendall tau and
    overlaps are better high."""
    return metric.rsplit(".", 1)[-1] in ("angle_error_deg", "mean_angle_deg", "worst_angle_deg",
                                         "at_least_one_off_by_deg")


def stats_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per headline number over the seeds: n (seeds with a value), mean, sd (n - 1), min, max, worst (max
    of an angle error, min of the others), worst_seed, and which direction is worse."""
    rows = []
    for col in headline_columns(summary):
        v = pd.to_numeric(summary[col], errors="coerce").astype(float)
        ok = v.notna()
        n = int(ok.sum())
        hi = higher_is_worse(col)
        row = {"metric": col, "n": n, "mean": math.nan, "sd": math.nan, "min": math.nan, "max": math.nan,
               "worst": math.nan, "worst_seed": pd.NA, "worse": "higher" if hi else "lower"}
        if n:
            worst_at = v.idxmax() if hi else v.idxmin()
            row.update(mean=float(v[ok].mean()), sd=float(v[ok].std(ddof=1)) if n > 1 else math.nan,
                       min=float(v[ok].min()), max=float(v[ok].max()), worst=float(v[worst_at]),
                       worst_seed=int(summary.loc[worst_at, "seed"]))
        rows.append(row)
    table = pd.DataFrame(rows, columns=["metric", "n", "mean", "sd", "min", "max", "worst", "worst_seed",
                                        "worse"])
    return table.astype({"worst_seed": "Int64"})


def _dots(ax, summary: pd.DataFrame, cols: list[str], colors: dict, xlabel: str, title: str) -> None:
    """One row per headline number: a dot per seed, the mean (black bar) and the range (grey line)."""
    ax.set_title(title, fontsize=10)
    if not cols:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return
    for i, col in enumerate(cols):
        v = pd.to_numeric(summary[col], errors="coerce").astype(float)
        if v.notna().any():
            ax.plot([v.min(), v.max()], [i, i], color="0.75", lw=3, zorder=1)
            ax.plot([v.mean()], [i], marker="|", color="black", ms=16, mew=2, zorder=3)
        for seed, x in zip(summary["seed"], v, strict=True):
            if not math.isnan(x):
                ax.scatter([x], [i], color=colors[seed], s=28, zorder=2)
    ax.set_yticks(range(len(cols)), cols, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)


def plot_study(summary: pd.DataFrame, path: str | Path) -> None:
    """Four panels: value-model angle errors to the planted w*; coverage, Kendall tau, top-10 overlap and the
    best model's oracle share; mean AUC over heads per model (test, small); the planted w* of each seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = headline_columns(summary)
    angles = [c for c in cols if higher_is_worse(c)]
    shares = [c for c in cols if c.rsplit(".", 1)[-1] in METHOD_KEYS[1:] or c.startswith("oracle_share")]
    aucs = [c for c in cols if c.startswith("auc_")]
    palette = plt.get_cmap("tab10")
    colors = {s: palette(i % 10) for i, s in enumerate(summary["seed"])}
    n_rows = max(len(angles), len(shares), len(aucs), 4)
    fig, axes = plt.subplots(2, 2, figsize=(15, 4 + 0.45 * n_rows), squeeze=False)
    _dots(axes[0][0], summary, angles, colors, "degrees (lower is better)",
          "value model: angle to planted w*")
    _dots(axes[0][1], summary, shares, colors, "share (higher is better)",
          "value model: coverage, rank agreement; best model: share of oracle AUC")
    _dots(axes[1][0], summary, aucs, colors, "AUC, mean over heads", "models: AUC (test, small split)")
    ax = axes[1][1]
    for _, row in summary.iterrows():
        ax.plot(range(len(HEADS)), [row[f"{W_STAR_PREFIX}{h}"] for h in HEADS], marker="o",
                color=colors[row["seed"]], label=f"seed {row['seed']}")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(range(len(HEADS)), HEADS)
    ax.set_ylabel("weight (unit vector)")
    ax.set_title("planted w* of each seed", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    names = sorted(set(summary["dataset"].astype(str)))
    fig.suptitle(f"seed study: {len(summary)} runs ({', '.join(names)}); "
                 "dot = seed, bar = mean, grey = range", fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def gather(records: Sequence[str | Path], summary_csv: str | Path, table_csv: str | Path,
           figure: str | Path, root: str | Path = ".") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's outputs from the seeds' run records: summary.csv (per seed), table.csv (per headline
    number) and the figure."""
    rows = []
    for path in records:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        rows.append(run_numbers(record, root))
    summary = summary_table(rows)
    table = stats_table(summary)
    with atomic_path(summary_csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(table_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    plot_study(summary, figure)
    log.info("seed study over %d runs:\n%s", len(summary), table.to_string(index=False))
    return summary, table


# --- two studies side by side (e.g. the simple and the platform world) -----------------------------------
def compare_table(summaries: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per headline number and study (`summaries`: label -> a study's summary.csv): n, mean, sd,
    min, max and the worst case, in the order the numbers first appear; a number a study lacks is absent
    from its rows."""
    parts = []
    for label, summary in summaries.items():
        table = stats_table(summary)
        parts.append(table.assign(study=label))
    table = pd.concat(parts, ignore_index=True)
    order = {m: i for i, m in enumerate(dict.fromkeys(table["metric"]))}
    labels = {s: i for i, s in enumerate(summaries)}
    table = table.sort_values(["metric", "study"], kind="stable",
                              key=lambda c: c.map(order if c.name == "metric" else labels))
    table = table.reset_index(drop=True)
    return table[["metric", "study", "n", "mean", "sd", "min", "max", "worst", "worst_seed", "worse"]]


def plot_compare(summaries: dict[str, pd.DataFrame], path: str | Path) -> None:
    """Two panels, the studies side by side per headline number (a dot per seed, a bar at the mean):
    value-model angles to the planted w* (estimates, references, recovery means), and the best model's AUC
    and share of the oracle AUC with the value model's Kendall tau and coverage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols: list[str] = []
    for summary in summaries.values():
        cols += [c for c in headline_columns(summary) if c not in cols]
    angles = [c for c in cols if higher_is_worse(c) and not c.endswith("worst_angle_deg")
              and not c.startswith("reference.uniform")]
    shares = [c for c in cols if c.startswith(("auc_test.best", "auc_small.best", "oracle_share"))
              or c.endswith(("kendall_tau", "interval_coverage", "coverage_across_methods"))]
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(16, 3 + 0.32 * max(len(angles), len(shares))), squeeze=False)
    k = len(summaries)
    for ax, panel, xlabel in ((axes[0][0], angles, "degrees from planted w* (lower is better)"),
                              (axes[0][1], shares, "AUC / share / tau (higher is better)")):
        for j, (label, summary) in enumerate(summaries.items()):
            off, first = (j - (k - 1) / 2) * 0.3, True
            for i, col in enumerate(panel):
                v = pd.to_numeric(summary.get(col, pd.Series(dtype=float)), errors="coerce").astype(float)
                v = v.dropna()
                if v.empty:
                    continue
                ax.scatter(v, [i + off] * len(v), color=colors(j), s=16, alpha=0.7,
                           label=label if first else None)
                ax.plot([v.mean()], [i + off], marker="|", color=colors(j), ms=12, mew=2.5)
                first = False
        ax.set_yticks(range(len(panel)), panel, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8)
    n = ", ".join(f"{label}: {len(s)} seeds" for label, s in summaries.items())
    fig.suptitle(f"seed studies side by side ({n}); dot = seed, bar = mean", fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def compare(studies: dict[str, str | Path], out_csv: str | Path, figure: str | Path) -> pd.DataFrame:
    """Read each study's summary.csv (`studies`: label -> its folder), write the side-by-side table and
    figure; a study folder without a summary.csv is named in the error."""
    summaries = {}
    for label, folder in studies.items():
        path = Path(folder) / "summary.csv"
        if not path.is_file():
            raise FileNotFoundError(f"study {label!r}: no {path}; run the study first (make seeds)")
        summaries[label] = pd.read_csv(path)
    table = compare_table(summaries)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    plot_compare(summaries, figure)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m vmrec.seed_study LABEL=FOLDER ... --out PREFIX`: two or more finished seed studies side by
    side, written to PREFIX.csv and PREFIX.png."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m vmrec.seed_study", description=main.__doc__)
    p.add_argument("studies", nargs="+", help="label=folder of a finished study, e.g. "
                   "simple=results/seed_study platform=results/seed_study-platform")
    p.add_argument("--out", required=True, help="output prefix (PREFIX.csv, PREFIX.png)")
    args = p.parse_args(argv)
    studies = {}
    for item in args.studies:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            p.error(f"expected LABEL=FOLDER, got {item!r}")
        studies[label] = folder
    table = compare(studies, f"{args.out}.csv", f"{args.out}.png")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

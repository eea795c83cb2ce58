"""Inputs of the HTML report (`snakemake --report`): the headline table and the gathered figures/tables.

The headline is what a reader wants first: per model and head, the AUC (with its 95% interval) on the
test split and on the unbiased `small` block (off the policy's views), and on synthetic data the
normalised lift against the oracle and the heads' bias on the candidates the policy passed over
(vmrec.offpolicy); how close each value-model method comes to the planted w* (angle, interval coverage,
ranking agreement), how far the methods are from each other (a bound on the error that needs no truth, and
weights.json's warning when it is large), the recovery study's summary per method (the true heads: how
close each method comes when the heads are right) and the estimated weights.
It is written as CSV (shown as a table in the report) and as reStructuredText
(included in the report's front page, report/workflow.rst).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from vmrec.contracts import HEADS, METRIC_COLUMNS, OFFPOLICY_WHERE
from vmrec.io import atomic_path, write_text

log = logging.getLogger("vmrec")

HEADLINE_COLUMNS = ("section", "name", "head", "value", "ci_low", "ci_high")


def metric_rows(metrics: pd.DataFrame, metric: str = "auc", split: str = "test") -> pd.DataFrame:
    """Headline rows from a tidy metrics table (METRIC_COLUMNS): `metric` on `split`, per model and head.
    Falls back to the first split present when `split` is missing."""
    missing = [c for c in METRIC_COLUMNS if c not in metrics.columns]
    if missing:
        raise ValueError(f"metrics table lacks columns {missing}; expected {list(METRIC_COLUMNS)}, "
                         f"found {list(metrics.columns)}")
    m = metrics[metrics["metric"].str.lower() == metric]
    if m.empty:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    if split not in set(m["split"]):
        split = sorted(set(m["split"]))[0]
    m = m[m["split"] == split]
    return pd.DataFrame({
        "section": f"{metric.upper()} ({split})",
        "name": m["model"].astype(str),
        "head": m["head"].astype(str),
        "value": m["value"].astype(float),
        "ci_low": m["ci_low"].astype(float),
        "ci_high": m["ci_high"].astype(float),
    })


def lift_rows(metrics: pd.DataFrame, split: str) -> pd.DataFrame:
    """Normalised lift (AUC - 0.5) / (oracle AUC - 0.5) per model and head on `split`, from a tidy metrics
    table with an `oracle` row (synthetic data); the interval is the model's AUC interval on the same scale
    (the oracle's own sampling error not included). Empty without an oracle or without `split`."""
    auc = metric_rows(metrics, "auc", split)
    if auc.empty or not auc["section"].str.contains(f"({split})", regex=False).all():
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    oracle = auc[auc["name"] == "oracle"].set_index("head")["value"]
    if oracle.empty:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    rows = auc[~auc["name"].isin(["oracle"])].copy()
    denom = rows["head"].map(oracle) - 0.5
    for c in ("value", "ci_low", "ci_high"):
        rows[c] = (rows[c] - 0.5) / denom
    rows["section"] = f"normalised lift ({split}): (AUC - 0.5) / (oracle AUC - 0.5)"
    return rows.reset_index(drop=True)


FIT_COLUMNS = ("angle to the planted w (deg)", "share of heads whose interval holds it", "Kendall tau",
               "top-10 overlap")


def _number_rows(section: str, name: str, entry: dict, columns, keys) -> list[dict]:
    """One headline row per (column, key) of `entry` whose value is a number (not a bool or null)."""
    return [{"section": section, "name": name, "head": col, "value": float(entry[key]),
             "ci_low": float("nan"), "ci_high": float("nan")}
            for col, key in zip(columns, keys, strict=True)
            if isinstance(entry.get(key), int | float) and not isinstance(entry.get(key), bool)]


def fit_rows(weights: dict) -> pd.DataFrame:
    """How close each value-model method's weights come to the planted w* (synthetic data): the angle, the
    share of heads whose 95% interval holds w*, and the agreement of the rankings they induce on held-out
    planted pools. Empty on real data (no w*)."""
    if "w_star" not in weights:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    keys = ("angle_error_deg", "interval_coverage", "kendall_tau", "top10_overlap")
    section = "value-model weights against the planted truth"
    rows = [row for name, m in (weights.get("methods") or {"estimate": weights}).items()
            for row in _number_rows(section, name, m, FIT_COLUMNS, keys)]
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


AGREEMENT_SECTION = ("value-model methods against each other (needs no truth: at least one method is at "
                     "least half their angle from any w)")
AGREEMENT_COLUMNS = ("angle between them (deg)", "at least one is this far from the truth (deg)",
                     "share of heads whose across-methods interval holds w*")


def agreement_rows(weights: dict) -> pd.DataFrame:
    """The largest angle between two value-model methods, the bound on the error it implies, and (synthetic)
    the coverage of w* by the envelope of their intervals (weights.json `agreement`,
    vmrec.value_model.agreement)."""
    a = weights.get("agreement")
    if not isinstance(a, dict):
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    keys = ("angle_between_deg", "at_least_one_off_by_deg", "coverage_across_methods")
    rows = _number_rows(AGREEMENT_SECTION, " vs ".join(a["methods"]), a, AGREEMENT_COLUMNS, keys)
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


REFERENCE_SECTION = ("value-model references: the same estimators with other heads or pools (weights.json "
                     "`reference`: logged pools = the policy's own pools; true / platform heads = planted)")


def reference_rows(weights: dict) -> pd.DataFrame:
    """The angle to w* of every reference estimate of weights.json (synthetic data): the same estimators on
    the policy's own pools or with planted heads, which split the estimate's error into its parts."""
    rows = [{"section": REFERENCE_SECTION, "name": name, "head": FIT_COLUMNS[0],
             "value": float(ref["angle_error_deg"]), "ci_low": float("nan"), "ci_high": float("nan")}
            for name, ref in (weights.get("reference") or {}).items()
            if isinstance(ref, dict) and isinstance(ref.get("angle_error_deg"), int | float)]
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


RECOVERY_COLUMNS = ("mean angle to w* (deg)", "worst angle (deg)", "mean Kendall tau",
                    "share of heads whose interval holds w*")
RECOVERY_SECTION = ("value-model recovery study: the true heads, lists re-drawn under each planted w* at "
                    "each logging noise")


def recovery_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per method of the recovery study (value_model/recovery.csv): the mean and worst angle to w* over its
    runs (planted cases x noise levels), the mean Kendall tau and the mean interval coverage; the method
    names say whether the pools were known (vmrec.value_model.figures.RECOVERY_TITLES)."""
    from vmrec.value_model.figures import RECOVERY_TITLES

    rows = []
    for method, grp in table.groupby("method", sort=False):
        name = f"{RECOVERY_TITLES.get(method, method)} ({len(grp)} runs)"
        values = (grp["angle_deg"].mean(), grp["angle_deg"].max(), grp["kendall_tau"].mean(),
                  grp["coverage"].mean())
        for col, v in zip(RECOVERY_COLUMNS, values, strict=True):
            if pd.notna(v):
                rows.append({"section": RECOVERY_SECTION, "name": name, "head": col, "value": float(v),
                             "ci_low": float("nan"), "ci_high": float("nan")})
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def _leaves(obj: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(obj, dict):
        return [leaf for k, v in obj.items() for leaf in _leaves(v, (*path, str(k)))]
    return [(path, obj)]


def weight_rows(weights: dict) -> pd.DataFrame:
    """Headline rows from value_model/weights.json: every number stored under a head name.

    The name column says which estimate it is (e.g. `estimate`, `truth`, `ci_low`): the JSON path
    without the head; intervals stored as `<...>.ci_low/ci_high` or `[low, high]` pairs join their row."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for path, value in _leaves(weights):
        heads = [p for p in path if p in HEADS]
        if not heads:
            continue
        head = heads[0]
        rest = [p for p in path if p != head]
        bound = rest[-1] if rest and rest[-1] in ("ci_low", "ci_high", "low", "high", "lo", "hi") else None
        name = ".".join(rest[:-1] if bound else rest) or "estimate"
        row = rows.setdefault((name, head), {"section": "value-model weight", "name": name, "head": head,
                                             "value": float("nan"), "ci_low": float("nan"),
                                             "ci_high": float("nan")})
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
            row["ci_low"], row["ci_high"] = float(value[0]), float(value[1])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            key = {"low": "ci_low", "lo": "ci_low", "high": "ci_high", "hi": "ci_high"}.get(bound, bound)
            row[key or "value"] = float(value)
    return pd.DataFrame(list(rows.values()), columns=list(HEADLINE_COLUMNS))


def offpolicy_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Headline rows from the off-policy table (vmrec.offpolicy, synthetic): per model and head, the bias
    of the heads on the candidates the policy passed over (with its interval) and their AUC lift there."""
    part = table[table["where"] == OFFPOLICY_WHERE[1]]
    bias = pd.DataFrame({"section": "off the policy's views: mean predicted - true probability, candidates "
                                    "the policy passed over (held-out planted pools)",
                         "name": part["model"], "head": part["head"], "value": part["bias"],
                         "ci_low": part["bias_lo"], "ci_high": part["bias_hi"]})
    lift = pd.DataFrame({"section": "off the policy's views: normalised lift against the truth (soft "
                                    "labels), candidates the policy passed over",
                         "name": part["model"], "head": part["head"], "value": part["lift"],
                         "ci_low": float("nan"), "ci_high": float("nan")})
    gap = table[table["where"] == OFFPOLICY_WHERE[2]]
    gap = pd.DataFrame({"section": "selection gap: (mean over shown - mean over passed-over candidates), "
                                   "predicted minus true (what the value model reads; truth: "
                                   + ", ".join(f"{h} {v:+.3f}" for h, v in
                                               gap.drop_duplicates("head")[["head", "mean_true"]]
                                               .itertuples(index=False)) + ")",
                        "name": gap["model"], "head": gap["head"], "value": gap["bias"],
                        "ci_low": gap["bias_lo"], "ci_high": gap["bias_hi"]})
    return pd.concat([bias, lift, gap], ignore_index=True)[list(HEADLINE_COLUMNS)]


def _read_weights(weights_json: str | Path | None) -> dict | None:
    return json.loads(Path(weights_json).read_text(encoding="utf-8")) if weights_json else None


def headline(metrics_csv: str | Path | None, weights_json: str | Path | None,
             offpolicy_csv: str | Path | None = None, recovery_csv: str | Path | None = None) -> pd.DataFrame:
    """The headline table (HEADLINE_COLUMNS) from whichever of the inputs exist."""
    return _headline(metrics_csv, _read_weights(weights_json), offpolicy_csv, recovery_csv)


def _headline(metrics_csv: str | Path | None, weights: dict | None, offpolicy_csv: str | Path | None,
              recovery_csv: str | Path | None) -> pd.DataFrame:
    parts = []
    if metrics_csv:
        metrics = pd.read_csv(metrics_csv)
        parts.append(metric_rows(metrics))
        if "small" in set(metrics["split"]):  # the unbiased block: off the policy's views
            parts.append(metric_rows(metrics, "auc", "small"))
        parts += [lift_rows(metrics, "test"), lift_rows(metrics, "small")]
    if offpolicy_csv:
        parts.append(offpolicy_rows(pd.read_csv(offpolicy_csv)))
    if weights is not None:
        parts.extend([fit_rows(weights), agreement_rows(weights), reference_rows(weights)])
    if recovery_csv:  # after the estimate's fit to w*, before its weights
        parts.append(recovery_rows(pd.read_csv(recovery_csv)))
    if weights is not None:
        parts.append(weight_rows(weights))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _fmt(x: float) -> str:
    return "" if pd.isna(x) else f"{x:.3f}"


def headline_rst(table: pd.DataFrame, dataset: str, warning: str | None = None) -> str:
    """The headline as reStructuredText: the value model's `warning` (weights.json) first, then one grid of
    `value [ci_low, ci_high]` per section (rows: name, columns: heads)."""
    lines = [f"Headline results ({dataset})", "-" * (len(dataset) + 19), ""]
    if warning:
        lines += [f"**Warning (value model):** {warning}", ""]
    if table.empty:
        return "\n".join([*lines, "No metrics or weights were produced by this run.", ""])
    for section, part in table.groupby("section", sort=False):
        columns = list(HEADS) if set(part["head"]) <= set(HEADS) else list(dict.fromkeys(part["head"]))
        lines += [f"**{section}**", "", ".. list-table::", "   :header-rows: 1", "",
                  "   * - " + "\n     - ".join(["", *columns])]
        for name, rows in part.groupby("name", sort=False):
            cells = []
            for h in columns:
                r = rows[rows["head"] == h]
                if r.empty:
                    cells.append("")
                    continue
                r = r.iloc[0]
                ci = f" [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]" if not pd.isna(r["ci_low"]) else ""
                cells.append(_fmt(r["value"]) + ci)
            lines.append("   * - " + "\n     - ".join([str(name), *cells]))
        lines.append("")
    return "\n".join(lines) + "\n"


def write_headline(metrics_csv: str | Path | None, weights_json: str | Path | None, csv_out: str | Path,
                   rst_out: str | Path, dataset: str, offpolicy_csv: str | Path | None = None,
                   recovery_csv: str | Path | None = None) -> pd.DataFrame:
    weights = _read_weights(weights_json)  # read once: the table and the warning above it
    table = _headline(metrics_csv, weights, offpolicy_csv, recovery_csv)
    warning = weights.get("warning") if weights else None
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    write_text(headline_rst(table, dataset, warning), rst_out)
    log.info("headline: %d rows from %s and %s", len(table), metrics_csv, weights_json)
    return table


def gather(files: list[str | Path], dest: str | Path) -> list[Path]:
    """Copy `files` into the folder `dest` (created afresh, atomically: a half copy is never left)."""
    dest = Path(dest)
    names = [Path(f).name for f in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"files to gather into {dest} share names {dupes}: {files}")
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in files:
        shutil.copy2(f, tmp / Path(f).name)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    log.info("gathered %d files into %s", len(files), dest)
    return [dest / n for n in names]

"""Inputs of the HTML report (`snakemake --report`): the headline table and the gathered figures/tables.

The headline is what a reader wants first: per model and head, the test AUC (with its 95% interval)
from the tidy metrics table, and the estimated value-model weights (with the planted truth when the
data is synthetic). It is written as CSV (shown as a table in the report) and as reStructuredText
(included in the report's front page, report/workflow.rst).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from vmrec.contracts import HEADS, METRIC_COLUMNS
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


def headline(metrics_csv: str | Path | None, weights_json: str | Path | None) -> pd.DataFrame:
    """The headline table (HEADLINE_COLUMNS) from whichever of the two inputs exist."""
    parts = []
    if metrics_csv:
        parts.append(metric_rows(pd.read_csv(metrics_csv)))
    if weights_json:
        parts.append(weight_rows(json.loads(Path(weights_json).read_text(encoding="utf-8"))))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=list(HEADLINE_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _fmt(x: float) -> str:
    return "" if pd.isna(x) else f"{x:.3f}"


def headline_rst(table: pd.DataFrame, dataset: str) -> str:
    """The headline as reStructuredText: one grid of `value [ci_low, ci_high]` per section (rows: name,
    columns: heads)."""
    lines = [f"Headline results ({dataset})", "-" * (len(dataset) + 19), ""]
    if table.empty:
        return "\n".join([*lines, "No metrics or weights were produced by this run.", ""])
    for section, part in table.groupby("section", sort=False):
        lines += [f"**{section}**", "", ".. list-table::", "   :header-rows: 1", "",
                  "   * - " + "\n     - ".join(["", *HEADS])]
        for name, rows in part.groupby("name", sort=False):
            cells = []
            for h in HEADS:
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
                   rst_out: str | Path, dataset: str) -> pd.DataFrame:
    table = headline(metrics_csv, weights_json)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    write_text(headline_rst(table, dataset), rst_out)
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

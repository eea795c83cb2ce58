"""Does inverse-propensity weighting make the heads hold off the policy's views? (synthetic data only)

    python -m vmrec.exposure results/synthetic-small data/raw/synthetic-small/truth --model mf_h64

(a run of the simple world, `make run ARGS="--configfile configs/simple.yaml"`: the platform world's truth
has no planted pool-inclusion propensity, docs/data.md)

A model trained on the policy's views over-rates the candidates the policy passed over (report/offpolicy.csv).
This study trains one model of a finished run twice or more on the same graph, seed and selected learning
rate and batch: plainly, and with each train view's loss weighted by 1 / max(p_list, clip) (normalised to
mean 1: the self-normalised form), where p_list is the **planted** probability that the policy ranked the
view into its list given its pool (truth/, `contracts.PROPENSITY_COLUMNS`). These weights turn the shown
views into the pool candidates' distribution: the best case any learned propensity model could reach.
It prints, per variant, test and small-block AUC (the small-block difference against the plain fit with a
95% bootstrap interval over users, same rows) and the bias of the heads on the shown and passed-over
candidates of held-out planted pools (vmrec.offpolicy). Measured results: docs/models.md, "Off the
policy's views".

Training reads the planted truth here on purpose (an oracle reference); no rule of the pipeline does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from vmrec.contracts import HEADS, OFFPOLICY_WHERE, TRUTH_BIG
from vmrec.metrics import bootstrap_counts, paired_auc_diff

PASSED_OVER = OFFPOLICY_WHERE[1]


def planted_train_p_list(g: dict, edges: pd.DataFrame, truth_dir: str | Path) -> np.ndarray:
    """Per train edge of the graph `g`: the planted p_list of its view (TRUTH_BIG by csv_row; edges:
    edge_id, source, csv_row of the edge table). A missing, zero or NaN value stops with the edge."""
    big = pq.read_table(Path(truth_dir) / TRUTH_BIG, columns=["csv_row", "p_list"]).to_pandas()
    rows = edges.loc[edges["source"] == "big", ["edge_id", "csv_row"]].merge(big, on="csv_row")
    p = rows.set_index("edge_id")["p_list"].reindex(g["train_edge_id"].numpy()).to_numpy(np.float64)
    bad = ~np.isfinite(p) | (p <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"train edge {int(g['train_edge_id'][i])}: planted p_list is {p[i]!r} (missing, "
                         f"zero or NaN; {int(bad.sum())} such rows): regenerate the synthetic data")
    return p


def ips_weights(p: np.ndarray, clip: float) -> np.ndarray:
    """1 / max(p, clip), normalised to mean 1 (the self-normalised form)."""
    if not 0 < clip <= 1:
        raise ValueError(f"clip must be in (0, 1]; found {clip}")
    w = 1.0 / np.maximum(p, clip)
    return w / w.mean()


def _user_bootstrap_diff(y: np.ndarray, a: np.ndarray, b: np.ndarray, user: np.ndarray, n_boot: int,
                         seed: int) -> list[tuple[float, float, float]]:
    """Per head: AUC(a) - AUC(b) on the same rows, with a 95% bootstrap interval over users (users drawn by
    metrics.bootstrap_counts; each row weighs its user's draw count; metrics.paired_auc_diff)."""
    uu, inv = np.unique(user, return_inverse=True)
    max_cells = max(1, 4_000_000 * len(uu) // max(len(y), 1))  # a chunk of row weights: ~4M cells

    def resamples():
        for counts in bootstrap_counts(np.random.default_rng(seed), len(uu), n_boot, max_cells):
            yield counts[:, inv]

    out = []
    for k in range(len(HEADS)):
        point, boot = paired_auc_diff(y[:, k], a[:, k], b[:, k], resamples())
        out.append((point, *np.percentile(boot, [2.5, 97.5])))
    return out


def run(results: Path, truth_dir: Path, model: str, clips: list[float], sessions: int, n_boot: int,
        seed: int) -> pd.DataFrame:
    from vmrec.config import validate_config
    from vmrec.graph import load_graph
    from vmrec.models import load_model as load_fitted
    from vmrec.models import model_spec, save_checkpoint
    from vmrec.offpolicy import held_out_pools, offpolicy_metrics, score_held_out_pools
    from vmrec.train import TrainSettings, head_aucs, predict_logits, train_model

    cfg = validate_config({})
    mc = dict(cfg["models"])
    g = load_graph(results / "graph" / "graph.pt")
    edges_path = results / "features" / "edges.parquet"
    edges = pq.read_table(edges_path, columns=["edge_id", "source", "csv_row", "date", "split"],
                          read_dictionary=["source", "split"]).to_pandas()
    best_path = results / "sweep" / model / "best.json"
    best = json.loads(best_path.read_text()) if best_path.exists() else {"lr": 0.003, "batch_size": 2048}
    spec = model_spec(model, mc)
    held = held_out_pools(truth_dir, edges, ["val", "test"], sessions, seed)
    p_list = planted_train_p_list(g, edges, truth_dir) if clips else None
    weights = {clip: ips_weights(p_list, clip) for clip in clips}  # every clip checked before training
    cpu = torch.device("cpu")
    rows, small = [], {}
    for clip in [None, *clips]:
        name = "plain" if clip is None else f"ips clip {clip:g}"
        rw = None if clip is None else torch.tensor(weights[clip])
        s = TrainSettings(lr=float(best["lr"]), batch_size=int(best["batch_size"]), epochs=mc["epochs"],
                          patience=mc["patience"], head_weights=mc["head_weights"], seed=seed,
                          emb_l2=mc.get("emb_l2", 0.0))
        res = train_model(spec, g, s, cpu, progress=False, row_weight=rw)
        pred = {sp: torch.sigmoid(predict_logits(res.net, g, sp, None, cpu, 65536, res.emb)).numpy()
                for sp in ("test", "small")}
        small[name] = pred["small"]
        ckpt = results / "exposure" / f"{model}_{name.replace(' ', '_')}.pt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(ckpt, res.net, g, res.emb, {"clip": clip})
        scored = score_held_out_pools(held, edges, edges_path, results / "features" / "item_features.parquet",
                                      load_fitted(ckpt))
        off = offpolicy_metrics(name, scored, n_boot, seed).set_index(["where", "head"])
        diffs = (_user_bootstrap_diff(g["small_y"].numpy(), pred["small"], small["plain"],
                                      g["small_user"].numpy(), n_boot, seed) if clip is not None else None)
        for k, h in enumerate(HEADS):
            rows.append({
                "variant": name, "head": h,
                "auc_test": head_aucs(g["test_y"].numpy(), pred["test"])[h],
                "auc_small": head_aucs(g["small_y"].numpy(), pred["small"])[h],
                "small_diff": diffs[k][0] if diffs else 0.0,
                "small_diff_lo": diffs[k][1] if diffs else 0.0,
                "small_diff_hi": diffs[k][2] if diffs else 0.0,
                "bias_shown": off.loc[("shown", h), "bias"],
                "bias_passed_over": off.loc[(PASSED_OVER, h), "bias"],
                "bias_passed_over_lo": off.loc[(PASSED_OVER, h), "bias_lo"],
                "bias_passed_over_hi": off.loc[(PASSED_OVER, h), "bias_hi"],
            })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, help="a finished synthetic run's results folder")
    ap.add_argument("truth", type=Path, help="its truth/ folder")
    ap.add_argument("--model", default="mf_h64")
    ap.add_argument("--clip", type=float, nargs="+", default=[0.02, 0.1],
                    help="propensity floors of the weighted variants")
    ap.add_argument("--sessions", type=int, default=4000, help="held-out planted pools scored")
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    table = run(a.results, a.truth, a.model, a.clip, a.sessions, a.bootstrap, a.seed)
    out = a.results / "exposure" / f"{a.model}.csv"
    table.to_csv(out, index=False, float_format="%.5g")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
    print(f"written to {out}")


if __name__ == "__main__":
    main()

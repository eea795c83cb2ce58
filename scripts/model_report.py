"""Rule model_report: aggregate metrics of every model and reference, and the model figures."""


from pathlib import Path

import pandas as pd

from vmrec.evaluate import (
    LABELS_FRAME_COLUMNS,
    best_non_graph_model,
    join_predictions,
    labels_frame,
    paired_frame,
    plot_auc,
    plot_calibration,
    plot_curves,
    plot_roc,
)
from vmrec.io import atomic_path, setup_logging, write_text


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    parts = [pd.read_csv(f) for f in smk.input.metrics]
    metrics = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    write_text(metrics.to_csv(index=False), smk.output.metrics)
    labels = labels_frame(pd.read_parquet(smk.input.edges, columns=LABELS_FRAME_COLUMNS))
    frames = {}
    for f in smk.input.predictions:
        preds = pd.read_parquet(f)
        if len(preds):
            frames[Path(f).parent.name] = join_predictions(labels, preds, f)
    curves = {Path(f).parent.name: pd.read_csv(f) for f in smk.input.curves}
    figs = {"auc": lambda t: plot_auc(metrics, t), "curves": lambda t: plot_curves(curves, t),
            "roc": lambda t: plot_roc(frames, smk.params.figure_split, t),
            "calibration": lambda t: plot_calibration(frames, smk.params.figure_split, t)}
    for key, draw in figs.items():
        with atomic_path(smk.output[key]) as tmp:
            draw(tmp.with_suffix(".png"))
            tmp.with_suffix(".png").replace(tmp)
    # each trained model against the best non-graph model: paired bootstrap of the AUC difference
    trained = list(curves)
    baseline = best_non_graph_model(metrics, trained)
    paired = paired_frame({m: frames[m] for m in trained if m in frames}, baseline, list(smk.params.splits),
                          smk.params.bootstrap, smk.params.seed)
    write_text(paired.to_csv(index=False), smk.output.paired)
    log.info("paired AUC differences against %s:\n%s", baseline,
             paired.round(4).to_string(index=False) if len(paired) else "(none)")
    auc = metrics[(metrics["metric"] == "auc")].pivot_table(index=["split", "model"], columns="head",
                                                           values="value")
    log.info("AUC per head:\n%s", auc.round(4).to_string())


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

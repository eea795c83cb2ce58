"""Rule evaluate_reference: the duration-only baseline and (synthetic data) the oracle of true
probabilities, as predictions and metrics; the oracle is skipped (empty) when label thresholds differ."""


import logging

import pandas as pd
import pyarrow.parquet as pq

from vmrec.contracts import HEADS, METRIC_COLUMNS, PREDICTION_COLUMNS
from vmrec.evaluate import (
    duration_baseline,
    evaluate_frame,
    join_predictions,
    labels_frame,
    oracle_predictions,
)
from vmrec.io import setup_logging, write_parquet, write_text

log = logging.getLogger("vmrec")


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params
    names = pq.read_schema(smk.input.edges).names
    # only the columns the references use (the table has ~160 f_* model inputs)
    cols = [c for c in names if c in ("edge_id", "split", "user_id", "video_id", "source", "csv_row", *HEADS)
            or (c.startswith("f_item_") and "duration" in c)]
    edges = pd.read_parquet(smk.input.edges, columns=cols)
    labels = labels_frame(edges)
    refs = {"duration_baseline": duration_baseline(edges)}
    if smk.input.truth:  # synthetic data only: the planted truth folder
        refs["oracle"] = oracle_predictions(edges, smk.input.truth[0], p.labels)
    for name, preds in refs.items():
        if preds is None:
            preds = pd.DataFrame({c: pd.Series(dtype="float32") for c in PREDICTION_COLUMNS})
            m = pd.DataFrame(columns=list(METRIC_COLUMNS))
        else:
            frame = join_predictions(labels, preds, name)
            m = evaluate_frame(name, frame, list(p.splits), p.bootstrap, p.seed)
        preds = preds.astype({"edge_id": "int64", "split": "string"})
        write_parquet(preds[list(PREDICTION_COLUMNS)], smk.output[f"{name}_predictions"])
        write_text(m.to_csv(index=False), smk.output[f"{name}_metrics"])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

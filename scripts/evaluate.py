"""Rule evaluate: per-head metrics with bootstrap intervals of one model's predictions."""


import pandas as pd

from vmrec.evaluate import LABELS_FRAME_COLUMNS, evaluate_frame, join_predictions, labels_frame
from vmrec.io import setup_logging, write_text


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params
    labels = labels_frame(pd.read_parquet(smk.input.edges, columns=LABELS_FRAME_COLUMNS))
    preds = pd.read_parquet(smk.input.predictions)
    frame = join_predictions(labels, preds, smk.input.predictions)
    m = evaluate_frame(p.model, frame, list(p.splits), p.bootstrap, p.seed)
    write_text(m.to_csv(index=False), smk.output.metrics)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

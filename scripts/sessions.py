"""Rule `sessions`: big_matrix views -> sessions.parquet (+ length summary CSV and histogram)."""

import pyarrow.parquet as pq

from vmrec.io import setup_logging, write_parquet, write_text
from vmrec.sessions import length_summary, plot_length_histogram, sessionize


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    setup_logging(smk.log[0])
    big = pq.read_table(smk.input.big).to_pandas()
    edges = pq.read_table(smk.input.edges, columns=["source", "csv_row", "split"]).to_pandas()
    big_edges = edges[edges["source"] == "big"]
    split = big_edges.set_index("csv_row")["split"].astype(object)
    p = smk.params.sessions
    sessions = sessionize(
        big,
        p["gap_minutes"],
        p["min_length"],
        p["max_length"],
        drop_duplicates=p["drop_duplicates"],
        split_by_row=split,
        source=smk.input.big,
    )
    write_parquet(sessions, smk.output.sessions)
    summary = length_summary(sessions)
    write_text(summary.to_csv(index=False), smk.output.lengths)
    plot_length_histogram(summary, smk.output.histogram)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

"""Rule `features`: ingested tables -> edges.parquet (features, labels, split), columns.csv,
item_features.parquet (vmrec.features.build_edge_table)."""

from pathlib import Path

from vmrec.features import build_edge_table
from vmrec.io import setup_logging


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    setup_logging(smk.log[0])
    tables_dir = Path(smk.input.tables[0]).parent
    build_edge_table(
        tables_dir,
        Path(smk.output.edges),
        Path(smk.output.columns),
        Path(smk.output.item_features),
        labels=dict(smk.params.labels),
        split=dict(smk.params.split),
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

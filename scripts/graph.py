"""Rule graph: edge table -> graph tensors (node maps, node features, message and supervised edges)."""


from vmrec.graph import build_graph_from_parquet, graph_summary, save_graph
from vmrec.io import setup_logging, write_json


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    log.info("reading %s (feature columns one at a time)", smk.input.edges)
    g = build_graph_from_parquet(smk.input.edges, target_frac=smk.params.target_frac,
                                 x_dtype=smk.params.feature_dtype)
    save_graph(g, smk.output.graph)
    write_json(graph_summary(g) | {"target_frac": smk.params.target_frac,
                                   "feature_dtype": smk.params.feature_dtype}, smk.output.summary)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

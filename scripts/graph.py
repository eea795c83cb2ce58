"""Rule graph: edge table -> graph tensors (node maps, node features, message and supervised edges)."""


import pandas as pd

from vmrec.graph import build_graph, graph_summary, save_graph
from vmrec.io import setup_logging, write_json


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    edges = pd.read_parquet(smk.input.edges)
    log.info("read %d edges from %s", len(edges), smk.input.edges)
    g = build_graph(edges, target_frac=smk.params.target_frac)
    save_graph(g, smk.output.graph)
    write_json(graph_summary(g) | {"target_frac": smk.params.target_frac}, smk.output.summary)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

# Owned by the graph stage; see contracts.py for the layout.
# Edge table -> graph tensors: node maps and features, message edges, supervised edges per split.

GRAPH = f"{R}/graph/graph.pt"
GRAPH_SCRIPT = script_and_code("graph")


rule graph:
    input:
        edges=EDGES,
        code=GRAPH_SCRIPT.code,
    output:
        graph=GRAPH,
        summary=f"{R}/graph/summary.json",
    params:
        target_frac=config["models"]["target_frac"],
        feature_dtype=config["models"]["feature_dtype"],
    resources:
        mem_mb=lambda wc: 12000 if is_full_size(config) else 3000,
        runtime=30,
    log:
        f"{LOGS}/graph.log",
    benchmark:
        f"{BENCH}/graph.tsv"
    conda:
        CONDA_ENV
    script:
        GRAPH_SCRIPT.path

# Typed tables -> the edge table: leak-free features, four labels, split column (vmrec.features),
# its column dictionary, and the (video, date) item feature grid the value model scores candidates with.
FEATURES = script_and_code("features")


rule features:
    input:
        tables=list(TABLES.values()),
        code=FEATURES.code,
    output:
        edges=EDGES,
        columns=f"{R}/features/columns.csv",
        item_features=ITEM_FEATURES,
    params:
        labels=config["labels"],
        split=config["split"],
    threads: 2
    resources:
        mem_mb=lambda wc: 8000 if config["scale"] == "full" or not SYNTHETIC else 3000,  # full: 4.4-5.5 GB peak
        runtime=30,
    log:
        f"{LOGS}/features.log",
    benchmark:
        f"{BENCH}/features.tsv"
    conda:
        CONDA_ENV
    script:
        FEATURES.path


ALL_TARGETS.extend([EDGES, f"{R}/features/columns.csv", ITEM_FEATURES])

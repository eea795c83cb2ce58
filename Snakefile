# vmrec: multi-head value model for short-video recommendation on KuaiRec.
# `snakemake -j4` builds everything on config.yaml; see README.md.

configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/features.smk"
include: "rules/graph.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/value_model.smk"
include: "rules/report.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        ALL_TARGETS,

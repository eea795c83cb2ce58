# The HTML report (`make report` = `snakemake --report report.html`) and deployment settings that apply
# to every rule. Included last, after every stage has declared its rules and final outputs.

# --- the report ---------------------------------------------------------------------------------------
report: "../report/workflow.rst"

REPORT_DIR = f"{R}/report"
# Figures and tables the stages list as final outputs; gathered here so the report shows each with a caption.
REPORT_FIGURES = sorted({t for t in ALL_TARGETS if str(t).endswith(".png")})
REPORT_TABLES = sorted({t for t in ALL_TARGETS if str(t).endswith(".csv") and "/report/" in str(t)})
WEIGHTS = f"{R}/value_model/weights.json"
METRICS = f"{REPORT_DIR}/metrics.csv"


rule report_headline:
    input:
        metrics=[METRICS] if METRICS in ALL_TARGETS else [],
        weights=[WEIGHTS] if WEIGHTS in ALL_TARGETS else [],
        code=code("htmlreport", "io", "contracts"),
    output:
        csv=report(f"{REPORT_DIR}/headline.csv", caption="../report/headline.rst", category="1. Headline"),
        rst=f"{REPORT_DIR}/headline.rst",
    params:
        dataset=DATASET,
    resources:
        mem_mb=500,
        runtime=5,
    log:
        f"{LOGS}/report_headline.log",
    benchmark:
        f"{BENCH}/report_headline.tsv"
    script:
        "../scripts/report_headline.py"


rule report_figures:
    input:
        figures=REPORT_FIGURES,
        tables=REPORT_TABLES,
        code=code("htmlreport", "io"),
    output:
        figures=report(
            directory(f"{REPORT_DIR}/figures"),
            patterns=["{name}.png"],
            caption="../report/figure.rst",
            category="2. Figures",
        ),
        tables=report(
            directory(f"{REPORT_DIR}/tables"),
            patterns=["{name}.csv"],
            caption="../report/table.rst",
            category="3. Tables",
        ),
    resources:
        mem_mb=500,
        runtime=5,
    log:
        f"{LOGS}/report_figures.log",
    benchmark:
        f"{BENCH}/report_figures.tsv"
    script:
        "../scripts/report_figures.py"


ALL_TARGETS.extend([rules.report_headline.output.csv, rules.report_figures.output.figures])


# --- deployment: one conda env for every rule, GPU requests, rules that run on the submit host ----------
CONDA_ENV = str(Path(workflow.basedir) / "envs" / "vmrec.yaml")
# Rules that need a GPU when the config asks for one (device: cuda); the SLURM plugin turns gpu=1 into --gpus=1.
GPU_RULE_PREFIXES = ("sweep", "train", "estimate_weights")
# Cheap aggregation/plot rules: run on the host that runs Snakemake, never as cluster jobs.
LOCAL_RULE_PREFIXES = ("all", "select", "summary", "plot", "report")

for _rule in workflow.rules:
    if _rule.script or _rule.shellcmd:
        if _rule.conda_env is None:
            _rule.conda_env = CONDA_ENV
    if config["device"] == "cuda" and _rule.name.startswith(GPU_RULE_PREFIXES):
        _rule.resources.setdefault("gpu", 1)  # --set-resources <rule>:gpu=N still wins
    if _rule.name.startswith(LOCAL_RULE_PREFIXES):
        workflow.localrules(_rule.name)

# The HTML report (`make report` = `snakemake --report report.html`). Included last, after every stage has
# declared its rules and final outputs.

# --- the report ---------------------------------------------------------------------------------------
report: "../report/workflow.rst"

REPORT_DIR = f"{R}/report"
# Figures and tables the stages list as final outputs; gathered here so the report shows each with a caption.
REPORT_FIGURES = sorted({t for t in ALL_TARGETS if str(t).endswith(".png")})
REPORT_TABLES = sorted({t for t in ALL_TARGETS if str(t).endswith(".csv") and "/report/" in str(t)})
METRICS = f"{REPORT_DIR}/metrics.csv"
REPORT_HEADLINE = script_and_code("report_headline")
REPORT_FIGURES_SCRIPT = script_and_code("report_figures")


# Cheap aggregation: run on the host that runs Snakemake, never as cluster jobs.
localrules:
    report_headline,
    report_figures,


rule report_headline:
    input:
        metrics=[METRICS] if METRICS in ALL_TARGETS else [],
        weights=[WEIGHTS] if WEIGHTS in ALL_TARGETS else [],
        offpolicy=[OFFPOLICY["table"]] if DO_OFFPOLICY else [],
        recovery=[RECOVERY_CSV] if RECOVERY_CSV in ALL_TARGETS else [],
        code=REPORT_HEADLINE.code,
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
    conda:
        CONDA_ENV
    script:
        REPORT_HEADLINE.path


rule report_figures:
    input:
        figures=REPORT_FIGURES,
        tables=REPORT_TABLES,
        code=REPORT_FIGURES_SCRIPT.code,
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
    conda:
        CONDA_ENV
    script:
        REPORT_FIGURES_SCRIPT.path


ALL_TARGETS.extend([rules.report_headline.output.csv, rules.report_figures.output.figures])


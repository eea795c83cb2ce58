"""Rule offpolicy_report: every model's off-policy table in one, the bias figure, and every model against the
best non-graph model on the same candidates (paired)."""

import pandas as pd

from vmrec.contracts import OFFPOLICY_WHERE
from vmrec.evaluate import best_non_graph_model
from vmrec.io import setup_logging, write_text
from vmrec.offpolicy import paired_offpolicy, plot_offpolicy


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    p = smk.params
    table = pd.concat([pd.read_csv(f) for f in smk.input.tables], ignore_index=True)
    write_text(table.to_csv(index=False, float_format="%.6g"), smk.output.table)
    plot_offpolicy(table, smk.output.figure)
    metrics = pd.concat([pd.read_csv(f) for f in smk.input.metrics], ignore_index=True)
    baseline = best_non_graph_model(metrics, list(p.models))
    scored = {m: pd.read_parquet(f) for m, f in zip(p.models, smk.input.scored, strict=True)}
    paired = paired_offpolicy(scored, baseline, p.bootstrap, p.seed)
    write_text(paired.to_csv(index=False, float_format="%.6g"), smk.output.paired)
    log.info("off-policy |bias| against %s, passed-over candidates:\n%s", baseline,
             paired[paired["where"] == OFFPOLICY_WHERE[1]].round(4).to_string(index=False))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

"""Rule evaluate_pools: one model's heads on the policy's own candidate pools against the truth."""

import pyarrow.parquet as pq

from vmrec.contracts import OFFPOLICY_WHERE
from vmrec.io import setup_logging, write_parquet, write_text
from vmrec.models import load_model
from vmrec.offpolicy import SCORED_COLUMNS, held_out_pools, offpolicy_metrics, score_held_out_pools


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    p = smk.params
    truth = smk.input.truth[0]
    edges = pq.read_table(smk.input.edges, columns=["edge_id", "source", "csv_row", "date", "split"],
                          read_dictionary=["source", "split"]).to_pandas()
    held = held_out_pools(truth, edges, ["val", "test"], p.sessions, p.seed)
    model = load_model(smk.input.model)
    scored = score_held_out_pools(held, edges, smk.input.edges, smk.input.item_features, model)
    table = offpolicy_metrics(p.model, scored, p.bootstrap, p.seed)
    log.info("%s on %d planted pools (%d candidates): bias on passed-over candidates %s", p.model,
             held.pools["session_id"].nunique(), len(scored),
             table[table["where"] == OFFPOLICY_WHERE[1]].set_index("head")["bias"].round(4).to_dict())
    write_text(table.to_csv(index=False, float_format="%.6g"), smk.output.table)
    write_parquet(scored[list(SCORED_COLUMNS)].reset_index(drop=True), smk.output.scored)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

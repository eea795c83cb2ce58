"""Rule `recovery_case` (synthetic): one planted w* of the recovery study. Re-simulate the logged lists
from the planted pools under that w* at every logging noise level; how well embedding matching and
Plackett-Luce recover it (recovery/case_<n>.csv); and, pools unknown, the pool-marginal Plackett-Luce on
lists re-drawn from every planted pool with the true heads."""

from pathlib import Path

import pyarrow.parquet as pq

from vmrec.contracts import TRUTH_BIG, TRUTH_POOLS
from vmrec.device import resolve_device
from vmrec.io import setup_logging
from vmrec.value_model.embeddings import ListEmbedder
from vmrec.value_model.pipeline import content_of_videos, run_recovery_case, set_threads
from vmrec.value_model.scoring import blocked_pairs, truth_scorer
from vmrec.value_model.simulator import pools_from_long, subsample_long


def main(smk) -> None:  # noqa: ANN001  (the Snakemake object)
    setup_logging(smk.log[0])
    set_threads(smk.threads)
    settings, seed = dict(smk.params.settings), int(smk.params.seed)
    long = pq.read_table(Path(smk.input.truth) / TRUTH_POOLS).to_pandas()
    needs = ListEmbedder(settings["embedding"]).needs_content
    content = content_of_videos(Path(smk.input.big).parent) if needs else None
    pools = pools_from_long(subsample_long(long, settings["max_sessions"], seed), content, source=TRUTH_POOLS)
    # the pools-unknown path: every planted pool (lists re-drawn), candidates scored with the true heads at
    # the hour of each session's first logged view
    big_probs = pq.read_table(Path(smk.input.truth) / TRUTH_BIG, columns=["csv_row", "session_id"])
    big_probs = big_probs.to_pandas()
    ts = pq.read_table(smk.input.big, columns=["csv_row", "timestamp"]).to_pandas()
    start = big_probs.merge(ts, on="csv_row").groupby("session_id")["timestamp"].min().dropna()
    long = long[long["session_id"].isin(start.index)]
    first = long.drop_duplicates("session_id")[["session_id", "user_id"]]
    first = first.assign(position=0, timestamp=start.loc[first["session_id"]].to_numpy())
    run_recovery_case(
        pools,
        settings=settings,
        case=int(smk.wildcards.case),
        seed=seed,
        device=resolve_device(smk.params.device),
        out_csv=smk.output[0],
        long=long,
        score=truth_scorer(smk.input.truth, first),
        blocked=blocked_pairs(smk.input.small),
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

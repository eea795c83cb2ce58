"""Rule synthesize: write a synthetic KuaiRec 2.0 (7 CSVs) with planted ground truth (truth/)."""

import json
import logging
from pathlib import Path

from vmrec.io import setup_logging
from vmrec.synthetic import describe, generate


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    syn = smk.params.synthetic
    root = Path(smk.output.truth).parent
    log.info("generating synthetic KuaiRec (scale=%s, seed=%s) into %s", smk.params.scale, syn["seed"], root)
    generate(root, scale=smk.params.scale, seed=syn["seed"], value_weights=syn["value_weights"],
             noise_scale=syn["noise_scale"])
    if smk.params.scale != "full":  # reading the full CSVs back takes a while; the numbers are in truth.json
        logging.getLogger("vmrec").info("distributions: %s", json.dumps(describe(root), indent=1))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

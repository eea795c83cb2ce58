"""Rule synthesize: write a synthetic KuaiRec 2.0 (7 CSVs) with planted ground truth (truth/)."""

import json
from pathlib import Path

from vmrec.io import setup_logging
from vmrec.synthetic import generate


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    syn = smk.params.synthetic
    root = Path(smk.output.truth).parent
    log.info("generating synthetic KuaiRec (scale=%s, seed=%s, world=%s) into %s", smk.params.scale,
             syn["seed"], syn["world"], root)
    generate(root, scale=smk.params.scale, seed=syn["seed"], value_weights=syn["value_weights"],
             noise_scale=syn["noise_scale"], world=syn["world"], threads=smk.threads)
    stats = json.loads((root / "truth" / "truth.json").read_text(encoding="utf-8"))["stats"]
    log.info("distributions (also in truth/truth.json):\n%s", json.dumps(stats, indent=1))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

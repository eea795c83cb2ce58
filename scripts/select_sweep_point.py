"""Rule select: pick the sweep point with the best validation mean AUC of one model -> best.json."""


import json
import logging

from vmrec.io import setup_logging, write_json

log = logging.getLogger("vmrec")


def main(smk) -> None:
    setup_logging(smk.log[0])
    points = [json.loads(open(f, encoding="utf-8").read()) for f in smk.input.points]
    # best mean AUC; ties go to the smaller lr, then the larger batch (cheaper, more stable)
    best = max(points, key=lambda r: (r["val_auc_mean"], -r["lr"], r["batch_size"]))
    for r in sorted(points, key=lambda r: -r["val_auc_mean"]):
        log.info("%s lr %g bs %d: val AUC mean %.4f", r["model"], r["lr"], r["batch_size"], r["val_auc_mean"])
    log.info("selected lr %g, batch size %d", best["lr"], best["batch_size"])
    write_json({"model": best["model"], "lr": best["lr"], "batch_size": best["batch_size"],
                "val_auc_mean": best["val_auc_mean"], "points": points}, smk.output.best)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

"""Rule train: train one model on full data with its selected point; save weights, curve, predictions."""


import json

import torch

from vmrec.device import resolve_device
from vmrec.graph import load_graph
from vmrec.io import setup_logging, write_parquet, write_text
from vmrec.models import model_spec, save_checkpoint
from vmrec.train import TrainSettings, predictions_frame, train_model


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    p = smk.params
    best = json.loads(open(smk.input.best, encoding="utf-8").read())
    spec = model_spec(p.model["name"], p.model)
    s = TrainSettings(lr=float(best["lr"]), batch_size=int(best["batch_size"]), epochs=p.epochs,
                      patience=p.patience, head_weights=p.model["head_weights"],
                      eval_batch_size=p.eval_batch_size, seed=p.seed,
                      emb_l2=p.model.get("emb_l2", 0.0))
    g = load_graph(smk.input.graph)
    res = train_model(spec, g, s, resolve_device(p.device))
    log.info("%s: best epoch %d, val AUC mean %.4f, %.1f s per epoch, %.0f edges/s", spec.name,
             res.best_epoch, res.val_auc["mean"], res.curve["seconds"].mean(),
             res.curve["edges_per_s"].mean())
    save_checkpoint(smk.output.model, res.net, g, res.emb,
                    {"lr": s.lr, "batch_size": s.batch_size, "best_epoch": res.best_epoch, "seed": s.seed})
    write_text(res.curve.to_csv(index=False), smk.output.curve)
    preds = predictions_frame(res.net, g, res.emb, batch_size=s.eval_batch_size)
    write_parquet(preds, smk.output.predictions)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

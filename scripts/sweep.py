"""Rule sweep: train one (model, lr, batch size) point on a subset of train, score it on val."""


import torch

from vmrec.device import resolve_device
from vmrec.graph import load_graph
from vmrec.io import setup_logging, write_json
from vmrec.models import model_spec
from vmrec.train import TrainSettings, train_model


def main(smk) -> None:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    p = smk.params
    spec = model_spec(p.model["name"], p.model)
    s = TrainSettings(lr=float(p.lr), batch_size=int(p.batch_size), epochs=p.epochs, patience=p.patience,
                      head_weights=p.model["head_weights"], eval_batch_size=p.eval_batch_size, seed=p.seed,
                      emb_l2=p.model.get("emb_l2", 0.0),
                      subset_frac=p.subset_frac)
    res = train_model(spec, load_graph(smk.input.graph), s, resolve_device(p.device))
    write_json({"model": spec.name, "lr": s.lr, "batch_size": s.batch_size, "subset_frac": s.subset_frac,
                "epochs_run": int(res.curve["epoch"].max()), "best_epoch": res.best_epoch,
                "val_auc_mean": res.val_auc["mean"], "val_auc": {k: v for k, v in res.val_auc.items()
                                                                if k != "mean"},
                "seconds": float(res.curve["seconds"].sum())}, smk.output[0])


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

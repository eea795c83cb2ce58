"""Snakemake rule `download_kuairec`: fetch and verify the real KuaiRec 2.0 release into `kuairec_dir`.

Runs only when some of the seven CSVs are missing (they are the rule's outputs). Offline it fails at
once with the folder and file names to place by hand (vmrec.download.ensure_kuairec).
"""


from vmrec.download import ensure_kuairec
from vmrec.io import setup_logging


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    placed = ensure_kuairec(smk.params.raw_dir)
    log.info("KuaiRec ready: %s", ", ".join(str(p) for p in placed))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

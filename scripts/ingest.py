"""Snakemake rule `ingest`: the seven raw KuaiRec CSVs -> typed, validated Parquet tables.

Reads the raw folder read-only and writes results/<dataset>/tables/<stem>.parquet; all seven tables are
renamed into place only when every file passed validation (vmrec.ingest.ingest_all).
"""


from pathlib import Path

from vmrec.ingest import ingest_all
from vmrec.io import setup_logging


def main(smk) -> None:
    log = setup_logging(smk.log[0])
    csvs = [Path(p) for p in smk.input.csv]
    raw_dirs = {p.parent for p in csvs}
    outs = [Path(p) for p in smk.output.tables]
    out_dirs = {p.parent for p in outs}
    if len(raw_dirs) != 1 or len(out_dirs) != 1:
        raise ValueError(f"ingest expects one raw folder and one output folder, "
                         f"got {raw_dirs} and {out_dirs}")
    written = ingest_all(raw_dirs.pop(), out_dirs.pop(), duplicates=smk.params.duplicates)
    missing = sorted(str(p) for p in outs if p not in set(written.values()))
    if missing:
        raise RuntimeError(f"ingest did not write the declared outputs {missing}")
    log.info("ingest done: %s", ", ".join(str(p) for p in written.values()))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

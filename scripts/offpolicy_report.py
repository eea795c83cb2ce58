"""Rule offpolicy_report: every model's off-policy table in one, and the bias figure."""

import pandas as pd

from vmrec.io import setup_logging, write_text
from vmrec.offpolicy import plot_offpolicy


def main(smk) -> None:
    setup_logging(smk.log[0])
    table = pd.concat([pd.read_csv(f) for f in smk.input.tables], ignore_index=True)
    write_text(table.to_csv(index=False, float_format="%.6g"), smk.output.table)
    plot_offpolicy(table, smk.output.figure)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (injected by Snakemake)

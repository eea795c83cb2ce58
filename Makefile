# vmrec — two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 4
# Extra arguments for snakemake, e.g. `make run ARGS="--config scale=tiny"`.
ARGS   ?=

.PHONY: run test bench report lint clean help

help:
	@echo "make run    build everything on the default config (synthetic KuaiRec, small scale)"
	@echo "make test   run the test suite"
	@echo "make bench  run the benchmarks (writes bench/)"
	@echo "make report build the self-contained HTML report of the last run (report.html)"
	@echo "make lint   ruff + snakemake --lint"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch: the CPU build, pinned (an unpinned install pulls a multi-GB CUDA build).
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake -j$(JOBS) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m vmrec.bench $(ARGS)

report: $(STAMP)
	$(BIN)/snakemake -j1 --report report.html $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake report.html

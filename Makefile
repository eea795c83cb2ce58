# vmrec — two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 4
# Extra arguments for snakemake, e.g. `make run ARGS="--config scale=tiny"`.
ARGS   ?=

.PHONY: run test bench report lint clean help gpu-check perf-table seeds worlds

help:
	@echo "make run    build everything on the default config (synthetic KuaiRec, small scale)"
	@echo "make test   run the test suite"
	@echo "make bench  run the benchmarks (writes bench/)"
	@echo "make seeds  the seed study: the synthetic pipeline per data seed and planted w* (config key seed_study)"
	@echo "make worlds both worlds' seed studies side by side (results/seed_study-worlds.csv, .png)"
	@echo "make report build the self-contained HTML report of the last run (report.html)"
	@echo "make lint   ruff + snakemake --lint"
	@echo "make gpu-check  train the tiny pipeline's models on CUDA and print epoch times (needs a GPU)"

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

# The seed study (README "Seed study"): one run of the synthetic pipeline per data seed, then the summary.
seeds: $(STAMP)
	$(BIN)/snakemake -s seed_study.smk -j$(JOBS) $(ARGS)

# Both worlds' seed studies side by side (run `make seeds` with configs/simple.yaml and configs/platform.yaml first).
worlds: $(STAMP)
	$(BIN)/python -m vmrec.seed_study simple=results/seed_study platform=results/seed_study-platform \
		--out results/seed_study-worlds

report: $(STAMP)
	$(BIN)/snakemake -j1 --report report.html $(ARGS)

# Train on CUDA (tiny scale) in a scratch directory; fails clearly without a GPU (device: cuda is an error then).
GPU_DIR ?= /tmp/vmrec-gpu-check
gpu-check: $(STAMP)
	@$(BIN)/python -c "import torch, sys; ok = torch.cuda.is_available(); print('CUDA:', torch.cuda.get_device_name(0) if ok else 'none'); sys.exit(0 if ok else 'gpu-check: torch sees no CUDA GPU (torch ' + torch.__version__ + '); run it on a GPU node with the CUDA build of torch')"
	$(BIN)/snakemake -s $(CURDIR)/Snakefile --directory $(GPU_DIR) --configfile $(CURDIR)/config.yaml -j2 --config scale=tiny device=cuda --forcerun sweep train $(ARGS)
	@grep -h -i "epoch" $(GPU_DIR)/results/synthetic-tiny/logs/train*.log $(GPU_DIR)/results/synthetic-tiny/logs/*/train*.log 2>/dev/null || true

# Table of wall time and peak memory per rule from a run's benchmark files (docs/performance.md).
perf-table: $(STAMP)
	$(BIN)/python scripts/report_perf_table.py results/$${DATASET:-synthetic-small-platform}/benchmarks

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests
	$(BIN)/snakemake --lint
	$(BIN)/snakemake -s seed_study.smk --lint

clean:
	rm -rf results .snakemake report.html

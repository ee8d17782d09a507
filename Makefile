# The two commands of the README: `make demo` and `make test`.
# Both create .venv if missing and install PyTorch's pinned CPU wheel before the package
# (a bare `torch` requirement would pull a multi-GB CUDA build). GPU users: set TORCH.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
CORES ?= all
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed

export PATH := $(BIN):$(PATH)

.PHONY: demo test test-slow test-slurm lint clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	@cat results/summary.md

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# Starts a real one-node SLURM (root; installs Debian's slurm-wlm and munge) and runs the
# workflow through workflow/profiles/slurm.
test-slurm: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,slurm]"
	$(BIN)/python -m pytest -m slurm

lint: $(STAMP)
	$(BIN)/snakemake --lint

clean-results:
	rm -rf results .snakemake

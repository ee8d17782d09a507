# The commands of the README: `make demo`, `make test` and `make lint`.
# Each creates .venv if missing and installs PyTorch's pinned CPU wheel before the package
# (a bare `torch` requirement would pull a multi-GB CUDA build). GPU users: set TORCH.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
CORES ?= all
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed

export PATH := $(BIN):$(PATH)

.PHONY: install demo test test-slow test-slurm lint docs clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	MOL_PRINT_SUMMARY=0 $(BIN)/snakemake --cores $(CORES)
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

# The lint gate (docs/development.md; CI runs it after the tests): each step must pass.
lint: $(STAMP) docs
	$(BIN)/ruff check mol_core tests
	$(BIN)/ruff format --check mol_core tests
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/mypy mol_core

# The reference pages (docs/) as a site in site/; strict: a broken link or a page missing
# from the navigation fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict  # not --quiet: it hides the warnings strict counts

clean-results:
	rm -rf results .snakemake

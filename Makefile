# `make demo` and `make test` each create .venv (Python 3.11) and install camsort with all extras.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.camsort-installed
# Test processes (pytest-xdist, one test file per process at a time): the suite is mostly single-threaded.
TEST_WORKERS ?= 2

.PHONY: demo test lint install clean default-model

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "camsort needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.py entry_points.cfg
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(BIN)/python -m pip install --quiet -e ".[all]"
	touch $(STAMP)

demo: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/camsort demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The linter tests/test_style.py runs in `make test` (ruff.toml).
lint: $(STAMP)
	$(BIN)/python -m ruff check .

# Rebuild the model shipped in xicam/camsort/default_model by its recipe: three members of 30-41 min each
# on 2 cores; a stopped run resumes with the members it finished.
default-model: $(STAMP)
	$(BIN)/camsort train --default

clean:
	rm -rf $(VENV) build *.egg-info

# A real single-node Slurm + munge cluster on this machine (root; see hpc/local-slurm.sh).
.PHONY: slurm-up slurm-down
slurm-up:
	bash hpc/local-slurm.sh up

slurm-down:
	bash hpc/local-slurm.sh down

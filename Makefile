# DSM: the two commands that matter are `make demo` and `make test`.
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Two pytest workers (the CI machine has two cores); tests on fixed addresses share one (xdist_group).
XDIST ?= -n 2 --dist loadgroup

.PHONY: all venv test lint bench demo clean wheelhouse

all: test

# Bootstrap the virtualenv from pyproject.toml on a fresh machine; redone when pyproject changes.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,sim]'
	@touch $(STAMP)

venv: $(STAMP)

# Every dependency's wheel (and DSM's, and the build backend for an offline `pip install .`), for the install tests:
# built once per pyproject change, here where a package index is reachable; the tests install from it with every
# index unreachable.
TEST_WHEELS := .testbeds/wheels
$(TEST_WHEELS)/.stamp: pyproject.toml Makefile $(STAMP)
	rm -rf $(TEST_WHEELS)
	$(BIN)/python -m pip wheel --quiet --wheel-dir $(TEST_WHEELS) '.[sim]' 'setuptools>=68' 'wheel>=0.42'
	@touch $@

test: $(STAMP) $(TEST_WHEELS)/.stamp
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The air-gapped install's package set: DSM and every dependency as wheels, pinned with their SHA-256 in
# wheelhouse/requirements.txt. Copy the directory across; there:
#   python3 -m venv /opt/dsm && /opt/dsm/bin/pip install --no-index --find-links wheelhouse \
#       --require-hashes -r wheelhouse/requirements.txt
wheelhouse: $(STAMP)
	rm -rf wheelhouse
	$(BIN)/python -m pip wheel --quiet --wheel-dir wheelhouse '.[sim]'
	$(BIN)/python deploy/wheelhouse.py wheelhouse

lint: $(STAMP)
	$(BIN)/ruff check dsm_core dsm_cli dsm_sim dsm_worker dsm_tui tests bench
	$(BIN)/mypy dsm_core dsm_cli dsm_sim dsm_worker dsm_tui

bench: $(STAMP)
	$(BIN)/python bench/run.py

# A throwaway DSM (temporary DSM_HOME, SQLite): 40 simulated iDRACs with faults, a worker, a discovery,
# then the console. Quitting the console (q) stops the worker and the fleet and removes the home.
demo: $(STAMP)
	$(BIN)/dsm demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

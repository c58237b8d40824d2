# DSM: the two commands that matter are `make demo` and `make test`.
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Two pytest workers (the CI machine has two cores); tests on fixed addresses share one (xdist_group).
XDIST ?= -n 2 --dist loadgroup

.PHONY: all venv test lint bench demo clean

all: test

# Bootstrap the virtualenv from pyproject.toml on a fresh machine; redone when pyproject changes.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,sim]'
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

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

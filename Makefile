# The commands a person types. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages the test suite needs, as command=package pairs.
TEST_SYSTEM_PACKAGES := redis-server=redis-server

.PHONY: help install test test-unit test-integration lint typecheck fmt dev bench clean

help:
	@echo "make dev     run the whole stack locally (no Docker)"
	@echo "make test    set up everything and run every test layer"
	@echo "make lint    ruff, mypy and the import contracts"
	@echo "make bench   benchmarks against Sidekiq and the Python peers"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

system-packages:
	@scripts/ensure-system-packages $(TEST_SYSTEM_PACKAGES)

test: install system-packages
	$(BIN)/pytest tests

test-unit: install
	$(BIN)/pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services tests
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

dev:
	@echo "make dev arrives with the stack issue; until then run: $(BIN)/sidequest worker -r MODULE"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

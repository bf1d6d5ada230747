# Two set-up commands: `make dev` starts everything, `make test` runs every check.
# Each bootstraps .venv when it is missing or pyproject.toml changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev test lint bench clean venv

venv: $(VENV)/.installed

# The C extension (activities/storage/_copyrows.c) is built by the install: rebuild when it changes.
$(VENV)/.installed: pyproject.toml setup.py activities/storage/_copyrows.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

dev: venv
	$(BIN)/civicflow dev

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: venv
	$(BIN)/civicflow bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Two commands to a running server and a green suite; both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: serve test lint fix bench bench-quick clean schema

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/crmapi serve --demo

test: $(STAMP)
	CRMAPI_REQUIRE_POSTGRES=1 $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

fix: $(STAMP)
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Pre-release: regenerate the single initial migration after changing storage/tables.py.
schema: $(STAMP)
	$(BIN)/python scripts/regen_migration.py

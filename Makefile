# Two commands to a running server and a green suite; both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: serve test lint fix bench bench-quick clean schema fuzz crash reliability reliability-report

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

# Benchmarks (docs/performance.md). Needs wrk (`apt-get install wrk`) and PostgreSQL binaries;
# datasets are seeded once under /tmp/crmapi-bench and reused. The full run takes ~30 minutes.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py --out docs/performance.md

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

# Reliability (docs/reliability.md). CI runs the short variants inside `make test`; these are
# the long ones. Each writes its figures to .reliability/*.json; `make reliability-report`
# prints them as the tables of docs/reliability.md.
RELIABILITY_PYTEST = CRMAPI_REQUIRE_POSTGRES=1 $(BIN)/pytest -q --timeout 3600

fuzz: $(STAMP)
	CRMAPI_FUZZ_SEED=$${CRMAPI_FUZZ_SEED:-random} CRMAPI_FUZZ_EXAMPLES=$${CRMAPI_FUZZ_EXAMPLES:-12} CRMAPI_CLOSE_FUZZ_EXAMPLES=$${CRMAPI_CLOSE_FUZZ_EXAMPLES:-20} \
		$(RELIABILITY_PYTEST) tests/reliability/test_fuzz.py tests/reliability/test_close_spec.py

crash: $(STAMP)
	CRMAPI_CRASH_CYCLES=$${CRMAPI_CRASH_CYCLES:-20} $(RELIABILITY_PYTEST) tests/reliability/test_crash.py

reliability: $(STAMP)
	$(RELIABILITY_PYTEST) tests/reliability

reliability-report: $(STAMP)
	$(BIN)/python scripts/reliability_report.py

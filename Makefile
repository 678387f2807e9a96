# Two commands to a running server and a green suite; both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: serve test lint fix bench bench-quick bench-scale bench-search bench-restore screenshots clean schema fuzz crash fairness edges outage reliability reliability-report

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/crmapi serve --demo

# Two pytest workers (pytest-xdist): most tests wait on sockets, subprocesses and fsync, so two
# processes keep 2 cores busy. Each worker starts its own PostgreSQL; `TEST_WORKERS=0` runs serially.
TEST_WORKERS ?= 2
test: $(STAMP)
	CRMAPI_REQUIRE_POSTGRES=1 CRMAPI_REQUIRE_BROWSER=1 $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

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

# Scale-out (docs/performance.md, "Scale-out" section): shared rate-limit cost and 1-3 hosts
# behind HAProxy on one PostgreSQL. Needs wrk, haproxy (and redis-server for its row).
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py --out docs/performance.md

# Lead search (GET /lead/?query=) on 20k leads against its own SQL; prints the section that
# bench/NOTES.md (and so docs/performance.md) carries.
bench-search: $(STAMP)
	$(BIN)/python bench/search.py

# Retake the inspector's screenshots in docs/img (the browser tests; a plain run leaves them).
screenshots: $(STAMP)
	CRMAPI_SCREENSHOTS=1 CRMAPI_REQUIRE_BROWSER=1 $(BIN)/pytest -q tests/test_inspector_browser.py

# Restoring a 1,000-activity organization from a snapshot (issue #16's per-test baseline):
# splices its section into docs/performance.md.
bench-restore: $(STAMP)
	$(BIN)/python bench/restore.py --rounds 30 --out docs/performance.md

# Reliability (docs/reliability.md). CI runs the short variants inside `make test`; these are
# the long ones. Each writes its figures to .reliability/*.json; `make reliability-report`
# prints them as the tables of docs/reliability.md.
RELIABILITY_PYTEST = CRMAPI_REQUIRE_POSTGRES=1 $(BIN)/pytest -q --timeout 3600

fuzz: $(STAMP)
	CRMAPI_FUZZ_SEED=$${CRMAPI_FUZZ_SEED:-random} CRMAPI_FUZZ_EXAMPLES=$${CRMAPI_FUZZ_EXAMPLES:-12} CRMAPI_CLOSE_FUZZ_EXAMPLES=$${CRMAPI_CLOSE_FUZZ_EXAMPLES:-20} \
		$(RELIABILITY_PYTEST) tests/reliability/test_fuzz.py tests/reliability/test_close_spec.py

crash: $(STAMP)
	CRMAPI_CRASH_CYCLES=$${CRMAPI_CRASH_CYCLES:-20} $(RELIABILITY_PYTEST) tests/reliability/test_crash.py

# Fairness with the before/after comparison (the server as it was: unbounded reads on the
# event loop, no gate); CI runs the "after" half only.
fairness: $(STAMP)
	CRMAPI_FAIRNESS_COMPARE=1 $(RELIABILITY_PYTEST) tests/reliability/test_fairness.py

edges: $(STAMP)
	$(RELIABILITY_PYTEST) tests/reliability/test_edges.py tests/reliability/test_access.py tests/reliability/test_deadlines.py

outage: $(STAMP)
	$(RELIABILITY_PYTEST) tests/reliability/test_outage.py

reliability: $(STAMP)
	$(RELIABILITY_PYTEST) tests/reliability

reliability-report: $(STAMP)
	$(BIN)/python scripts/reliability_report.py

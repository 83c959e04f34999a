# tokenrecon: the two commands of the README, and their parts.
#   make demo   set up, land the bundled reference case, build the warehouse, print the result
#   make test   set up, lint, run the whole test suite (what .ci/run calls)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

# Absolute paths: dbt's staging views embed the landing path, so the warehouse file opens
# from any folder.
export TOKENRECON_WAREHOUSE ?= $(CURDIR)/warehouse.duckdb
export TOKENRECON_LANDING ?= $(CURDIR)/data/landing
export DBT_PROFILES_DIR ?= $(CURDIR)
export DBT_PROJECT_DIR ?= $(CURDIR)
export PYTHONPATH := $(CURDIR)

.PHONY: help setup demo build browser test lint format bench-events bench-focus bench-scale docs clean

help:
	@echo "make demo   - set up, simulate a month + the reference case, ingest, dbt build, export, validate, report"
	@echo "make test   - set up, lint (ruff, sqlfluff) and run every test"
	@echo "make bench-events - event ingest benchmark (writes benchmarks/results/events.md)"
	@echo "make bench-focus  - FOCUS ingest benchmark (writes benchmarks/results/focus.md)"
	@echo "make bench-scale  - dbt build as a month grows: full vs next day (writes benchmarks/results/scale.md)"
	@echo "make docs   - dbt docs generate (target/index.html)"

$(BIN)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/python -m ingest simulate --out data/simulated --month 2026-04-01 --days 30 --no-audio \
	  --bill-format ea-actual
	$(BIN)/python -m ingest events samples/reference_case/realtime_logs data/simulated/logs
	$(BIN)/python -m ingest events data/simulated/logs-bare/contoso-voice-weu/rt-full-dz/2026-04-30.jsonl \
	  --resource contoso-voice-weu --deployment rt-full-dz --received-at 2026-04-30T12:00:00Z
	$(BIN)/python -m ingest costs samples/reference_case/cost_exports data/simulated/cost_exports
	$(BIN)/dbt build --quiet
	$(BIN)/python -m ingest export
	$(BIN)/python -m ingest validate
	@echo "The reference day, side by side (marts.fct_meter_reconciliation):"
	@$(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c "\
	  select usage_date, meter_name, cast(api_tokens as int) as api_tokens, \
	         cast(api_tokens_including_cached as int) as api_incl_cached, \
	         cast(billed_tokens as int) as billed_tokens, billed_to_api_ratio as ratio, \
	         cast(api_cost_estimate as decimal(12,6)) as expected_usd, \
	         cast(billed_cost as decimal(12,6)) as billed_usd, reconciliation_status \
	  from marts.fct_meter_reconciliation where resource_name = 'contoso-voice-swc' \
	    and usage_date = '2026-03-31' and meter_name like 'gpt rt%' order by meter_name"
	@echo "Best explanation per meter on the reference day (marts.fct_reconciliation_hypotheses):"
	@$(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c "\
	  select meter_name, hypothesis, cast(predicted_billed_tokens as int) as predicted, \
	         cast(billed_tokens as int) as billed, cast(residual_tokens as int) as residual \
	  from marts.fct_reconciliation_hypotheses where is_best_for_meter \
	    and resource_name = 'contoso-voice-swc' and usage_date = '2026-03-31' order by meter_name"
	$(BIN)/python -m ingest report
	@echo "Warehouse: $(TOKENRECON_WAREHOUSE)  (try: $(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c 'from marts.dim_export_runs')"

build: setup
	$(BIN)/dbt build
	$(BIN)/python -m ingest export

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models macros

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix models

# Debian's Chromium, for the test that renders the HTML report headless.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

# Test files run on both cores (a file's tests stay together: they share module fixtures).
test: setup node_modules/.installed browser lint
	$(BIN)/pytest -n 2 --dist loadfile

bench-events: setup
	$(BIN)/python benchmarks/bench_events.py

bench-focus: setup
	$(BIN)/python benchmarks/bench_focus.py

bench-scale: setup
	$(BIN)/python benchmarks/bench_scale.py

docs: setup
	$(BIN)/dbt docs generate

clean:
	rm -rf target logs data exports warehouse.duckdb

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

.PHONY: help setup demo build test lint format bench-events bench-focus docs clean

help:
	@echo "make demo   - set up, land the bundled reference case, dbt build, validate, print the reconciliation"
	@echo "make test   - set up, lint (ruff, sqlfluff) and run every test"
	@echo "make bench-events - event ingest benchmark (writes benchmarks/results/events.md)"
	@echo "make bench-focus  - FOCUS ingest benchmark (writes benchmarks/results/focus.md)"
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
	$(BIN)/python -m ingest events samples/reference_case/realtime_logs
	$(BIN)/python -m ingest focus samples/reference_case/cost_exports
	$(BIN)/dbt build --quiet
	$(BIN)/python -m ingest validate
	@echo "API usage and the bill side by side (marts.fct_meter_reconciliation):"
	@$(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c "\
	  select usage_date, meter_name, cast(api_tokens as int) as api_tokens, \
	         cast(api_tokens_including_cached as int) as api_incl_cached, \
	         cast(billed_tokens as int) as billed_tokens, billed_to_api_ratio as ratio, \
	         cast(api_cost_estimate as decimal(12,6)) as expected_usd, \
	         cast(billed_cost as decimal(12,6)) as billed_usd, reconciliation_status \
	  from marts.fct_meter_reconciliation order by usage_date, meter_name"
	@echo "Best explanation per meter (marts.fct_reconciliation_hypotheses):"
	@$(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c "\
	  select meter_name, hypothesis, cast(predicted_billed_tokens as int) as predicted, \
	         cast(billed_tokens as int) as billed, cast(residual_tokens as int) as residual \
	  from marts.fct_reconciliation_hypotheses where is_best_for_meter order by meter_name"
	@echo "Warehouse: $(TOKENRECON_WAREHOUSE)  (try: $(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c 'from marts.dim_export_runs')"

build: setup
	$(BIN)/dbt build

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models macros

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix models

test: setup node_modules/.installed lint
	$(BIN)/pytest

bench-events: setup
	$(BIN)/python benchmarks/bench_events.py

bench-focus: setup
	$(BIN)/python benchmarks/bench_focus.py

docs: setup
	$(BIN)/dbt docs generate

clean:
	rm -rf target logs data warehouse.duckdb

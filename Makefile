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
	@echo "make demo   - set up, ingest the bundled reference case, dbt build, print the result"
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
	@echo "API usage (marts.fct_response_usage):"
	@$(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c "\
	  select response_id, model, usage_date, input_text_tokens, input_audio_tokens, \
	         cached_text_tokens, cached_audio_tokens, uncached_text_tokens, uncached_audio_tokens, \
	         output_text_tokens, output_audio_tokens, total_tokens, has_usage_violation \
	  from marts.fct_response_usage order by responded_at"
	@echo "Billed (marts.fct_billed_usage, current export runs only):"
	@$(BIN)/duckdb $(TOKENRECON_WAREHOUSE) -c "\
	  select charge_date, resource_name, meter_name, cast(billed_tokens as bigint) as billed_tokens, \
	         billed_cost, billing_currency, consumed_quantity_basis \
	  from marts.fct_billed_usage order by charge_date, meter_name"
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

# Set-up and everyday commands. Every target creates the virtual environment first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Kedro telemetry never prompts and never reaches the network.
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1

# Every library version is pinned in $(LOCK) (pip-compile for Python 3.11 on Linux x86-64, from
# pyproject.toml's ranges and the dev extra); `make lock` refreshes it.
LOCK ?= requirements/lock.txt

.PHONY: setup run test lint bench-setup mlflow-ui viz viz-build airflow-dag repro lock lock-upgrade

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

## kedro run on the embedded demo universe: every pipeline, end to end; then the outputs that
## match dvc.lock go into DVC's cache, so `dvc status` and `dvc repro` know they are current
run: setup
	$(BIN)/kedro run
	$(BIN)/python -m gz_evo.dvc_cache

## the test suite (unit tests, tiny end-to-end runs, real-data tests on ../shared/data)
test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## benchmark-only packages without their dependencies (zoobot 2.9.0 for benchmarks/loss.py)
bench-setup: setup
	$(BIN)/pip install --quiet --no-deps -r requirements/bench.txt

## re-pin $(LOCK) after editing pyproject.toml: keeps every pin that still fits, pins what is new
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'pip-tools>=7.5'
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file $(LOCK) $(LOCK_ARGS) pyproject.toml

## the same, moving every pin to the newest version the ranges allow
lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

## DVC: rerun only the stages whose code, parameters or inputs changed
repro: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc repro

## Kedro-Viz: the pipelines' graph on http://127.0.0.1:4141
viz: setup
	$(BIN)/kedro viz run --host 127.0.0.1 --no-browser

## the same graph as a static site in build/ (any web server, or GitHub Pages)
viz-build: setup
	$(BIN)/kedro viz build

## the Airflow DAG of a pipeline (kedro-airflow; one task per node, MemoryDataset-linked nodes
## together): make airflow-dag [AIRFLOW_PIPELINE=real AIRFLOW_ENV=paper]
AIRFLOW_PIPELINE ?= __default__
AIRFLOW_ENV ?= local
airflow-dag: setup
	$(BIN)/kedro airflow create --pipelines $(AIRFLOW_PIPELINE) --env $(AIRFLOW_ENV) \
		--group-by memory --target-dir scripts/airflow

## MLflow UI on http://127.0.0.1:5000 (one worker: quick on 2 cores)
mlflow-ui: setup
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db -w 1

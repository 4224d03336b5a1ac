# Set-up and everyday commands. Every target creates the virtual environment first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Kedro telemetry never prompts and never reaches the network.
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1

.PHONY: setup run test lint benchmarks mlflow-ui repro

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

## kedro run on the embedded demo universe: every pipeline, end to end
run: setup
	$(BIN)/kedro run

## the test suite (unit tests, tiny end-to-end runs, real-data tests on ../shared/data)
test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

## DVC: rerun only the stages whose code, parameters or inputs changed
repro: setup
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/dvc repro

## MLflow UI on http://127.0.0.1:5000 (one worker: quick on 2 cores)
mlflow-ui: setup
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db -w 1

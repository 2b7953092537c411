# Two commands on a fresh machine: `make synth` and `make test`. `make help` lists every target.
SHELL := /bin/bash
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STAGE ?= dev
PYTHON ?= python3
# Test processes: the suite is mostly subprocesses (cdk synth, training runs); 2 fit a 2-core CI runner.
# --dist loadfile keeps each file's module fixtures in one process.
TEST_WORKERS ?= 2
# The npm-installed Node 22 and the venv come first: Node 20 is end-of-life and jsii warns on every synth.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SAGEMAKER_SUPPRESS_V2_WARNING := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help venv dev node tools synth synth-one test test-scale lint lint-types format docs deploy bootstrap start-pipeline upload-sample-data \
	upload-data follow models approve reject train-local bench-synth bench-train clean doctor diff ops-deps deploy-model \
	endpoint invoke

# Operator targets read these from the environment (`make approve STAGE=dev VERSION=3 REASON="..."`),
# so values with spaces or quotes reach the CLI unchanged. Their recipes start with @: make does not
# echo the command, so a failure shows the CLI's one line (and make's own "Error 1" line after it).
OPS := $(PY) -m ops.cli
export PARAMS EXECUTION VERSION REASON FROM TO LIMIT FILE

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

$(VENV)/.ops-installed: $(VENV)/.runtime-installed requirements-ops.txt
	$(PY) -m pip install --quiet -r requirements-ops.txt
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

ops-deps: $(VENV)/.ops-installed ## Add only what the upload targets use (pyarrow, numpy) to .venv: no torch or toolkits

node: node_modules/.installed ## Install the pinned CDK CLI and Node 22 into node_modules

tools: dev node $(CHECKOV_VENV)/.installed ## Everything `make test` needs (venvs, CDK CLI, checkov)

synth: venv node ## Synthesize every stage into cdk.out (offline; `STAGE=dev make synth-one` for one)
	cdk synth --quiet

synth-one: venv node ## Synthesize only $(STAGE)
	cdk synth --quiet -c stage=$(STAGE)

test: tools lint ## Lint, type-check, then run the test suite (TEST_WORKERS=2 processes; big-data tests: make test-scale)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not scale"

test-scale: dev ## Big-data tests (minutes): a train channel 2x a cgroup memory limit streams under it
	$(PY) -m pytest tests/training/test_big_data.py -m scale -s

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

doctor: venv node ## Preflight of $(STAGE): credentials, CDK bootstrap, training quota, deployed stack (one line each)
	@cdk synth --quiet -c stage=$(STAGE)
	@$(OPS) doctor --stage $(STAGE)

bootstrap: venv node ## cdk bootstrap the account/region of $(STAGE) (checks AWS credentials first)
	@$(OPS) check-credentials --stage $(STAGE)
	@cdk bootstrap -c stage=$(STAGE)

deploy: venv node ## Synthesize, run the doctor (credentials, bootstrap, quota), then deploy $(STAGE), e.g. make deploy STAGE=dev
	@cdk synth --quiet -c stage=$(STAGE)
	@$(OPS) doctor --stage $(STAGE) --for deploy
	@cdk deploy --app cdk.out --require-approval broadening SageMakerTraining-$(STAGE)

diff: venv node ## Show what make deploy would change in $(STAGE)'s stack (checks AWS credentials first)
	@$(OPS) check-credentials --stage $(STAGE)
	@cdk diff -c stage=$(STAGE) SageMakerTraining-$(STAGE)

upload-sample-data: ops-deps ## Upload the synthetic sample (generated into local_data once) to $(STAGE)'s channels
	@$(OPS) upload-data --stage $(STAGE) --from-dir local_data --sample-data $(if $(TO),--to "$$TO")

upload-data: ops-deps ## Check, then upload FROM=<dir>/<channel>/**/*.parquet to $(STAGE) [TO=s3://<bucket>/<input_prefix>/<name>]
	@$(OPS) upload-data --stage $(STAGE) --from-dir "$$FROM" $(if $(TO),--to "$$TO")

start-pipeline: venv ## Check PARAMS, the doctor (credentials, quota, deployed), each channel's data; start a $(STAGE) run [FOLLOW=1]
	@$(OPS) start --stage $(STAGE) --params "$$PARAMS" $(if $(filter 1,$(FOLLOW)),--follow)

follow: venv ## Follow a $(STAGE) execution until it ends [EXECUTION=arn; default the latest]
	@$(OPS) follow --stage $(STAGE) $(if $(EXECUTION),--execution "$$EXECUTION")

models: venv ## List $(STAGE)'s model versions: approval status, quality figures, creation time [LIMIT=n]
	@$(OPS) models --stage $(STAGE) $(if $(LIMIT),--limit "$$LIMIT")

approve: venv ## Approve model version VERSION=n of $(STAGE) [REASON="..."]
	@$(OPS) approve --stage $(STAGE) --version "$$VERSION" --reason "$$REASON"

reject: venv ## Reject model version VERSION=n of $(STAGE) with REASON="..."
	@$(OPS) reject --stage $(STAGE) --version "$$VERSION" --reason "$$REASON"

deploy-model: venv ## Deploy approved model version VERSION=n of $(STAGE) to its endpoint (also to roll back)
	@$(OPS) deploy-model --stage $(STAGE) --version "$$VERSION"

endpoint: venv ## Show $(STAGE)'s endpoint: status, model version, invocation errors of the last hour
	@$(OPS) endpoint --stage $(STAGE)

invoke: venv ## Send FILE=rows.csv (or .json records) to $(STAGE)'s endpoint and print P(label = 1) per row
	@$(OPS) invoke --stage $(STAGE) --file "$$FILE"

train-local: dev ## Train on this machine with $(STAGE)'s hyperparameters, from scratch unless RESUME=1
	$(OPS) train-local --stage $(STAGE) --data-dir local_data --output-dir local_output --sample-data $(if $(filter 1,$(RESUME)),--resume)
	@echo "Model: local_output/model   Metrics and plots: local_output/output"

bench-synth: venv node ## Benchmark: warm cdk synth of this app vs a bare CDK app (prints ratios)
	$(PY) benchmarks/bench_synth.py

bench-train: dev ## Benchmark: trainer vs a tuned loop, loading, memory, streaming under a cgroup, serving decode (ratios)
	$(PY) benchmarks/bench_train.py

.PHONY: gpu-check
gpu-check: ## GPU check: helpers, 1 process, torchrun, kill+resume, data on the device, trainer vs tuned loop (no venv)
	$(PYTHON) tests/gpu/gpu_check.py

clean: ## Remove build outputs (cdk.out, .build, .cache, local training output)
	rm -rf cdk.out .build .cache local_output local_data

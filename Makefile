# The commands the README names. `make dev` runs the whole system; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= 3.11

# uv from PATH, else the copy `make setup` installs in .tools (an absolute path: recipes may cd elsewhere).
TOOLS := $(CURDIR)/.tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
PYTEST_ARGS ?=

.PHONY: help setup dev test lint typecheck bench bench-interpreter faults docs clean synth compose-up compose-down

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

setup: $(UV)  ## install every package of the workspace from the lock file; the commands are then in .venv/bin
	$(UV) sync --all-packages --frozen
	@echo "ready: .venv/bin/snapinfra --help (or 'source .venv/bin/activate' once, then snapinfra --help)"

dev: setup  ## run the whole system: embedded AWS, provisioning, api on :5000 and the three workers
	$(UV) run snapinfra-dev up || [ $$? -eq 130 ]  # 130: stopped with Ctrl-C, as intended

test: setup  ## lint, then every test (unit, integration on moto, end to end)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy shared/snapinfra_shared services/*/snapinfra_* cli/snapinfra_cli infra/snapinfra_infra services/api/tests/fakes.py
	$(UV) run python -m snapinfra_shared.docs --check
	$(UV) run pytest $(PYTEST_ARGS)

typecheck: setup  ## mypy, strict
	$(UV) run mypy shared/snapinfra_shared services/*/snapinfra_* cli/snapinfra_cli infra/snapinfra_infra services/api/tests/fakes.py

bench: setup  ## measure throughput, latency and AWS calls per job on the running system (make dev first)
	$(UV) run python tests/benchmarks/bench_codegen.py $(BENCH_ARGS)

bench-interpreter: setup  ## the prompt interpreter's precision/recall on its golden set, with the misses (offline)
	$(UV) run python tests/benchmarks/interpreter_golden.py $(BENCH_ARGS)

faults: setup  ## the fault suite (issue 13): kills, stalls, duplicates, poison; 300 jobs a scenario (FAULTS_ARGS="--jobs 40")
	$(UV) run python -m tests.faults $(FAULTS_ARGS)

docs: setup  ## regenerate docs/events.md (event catalog) and docs/settings.md (settings classes)
	$(UV) run python -m snapinfra_shared.docs --write

synth: setup  ## write the CloudFormation templates of the CDK app to infra/cdk.out (needs Node.js)
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-20} $(UV) run --frozen python app.py

compose-up:  ## build the images and run the whole system on LocalStack in Docker (api on :5000)
	docker compose up --build --detach --wait api codegen deployer notifier

compose-down:  ## stop the compose system and remove its containers and network
	docker compose down --remove-orphans

clean:  ## remove the virtual environment and caches
	rm -rf .venv .tools .pytest_cache .ruff_cache .mypy_cache

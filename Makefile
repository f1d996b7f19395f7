# The two set-up commands: `make run` (the IRIS API on 127.0.0.1) and `make test`;
# `make smoke` checks a running API end to end.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
PORT ?= 8000

.PHONY: run test bench smoke clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (the Lambda base image runs 3.11); got " + sys.version' \
		|| { echo "Set PYTHON to a Python 3.11 interpreter, e.g. make PYTHON=/usr/bin/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.local-installed: $(BIN)/python backend/requirements.txt local_api/requirements.txt
	$(BIN)/python -m pip install --quiet -r local_api/requirements.txt
	touch $@

$(VENV)/.dev-installed: $(BIN)/python requirements.txt requirements-dev.txt backend/requirements.txt local_api/requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.local-installed

run: $(VENV)/.local-installed
	$(BIN)/python -m local_api --stack $(STACK) --port $(PORT)

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# make smoke URL=<base url> [API_KEY=<key>] [ORIGIN=<origin>] [TIMEOUT=<seconds>]
# make smoke STACK=<stack>: the stack's apiUrl and first corsOrigins, read with the Pulumi CLI.
# URL wins when both are given (STACK defaults to dev). Standard library only, so no .venv.
# The key travels in the environment, never on a command line; $(value) keeps a '$' in it.
smoke: export SMOKE_API_KEY = $(value API_KEY)
smoke:
	$(PYTHON) -m smoke $(if $(URL),--url '$(URL)',--stack '$(STACK)')$(if $(ORIGIN), --origin '$(ORIGIN)')$(if $(TIMEOUT), --timeout '$(TIMEOUT)')

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/handler_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The two set-up commands: `make run` (the IRIS API on 127.0.0.1) and `make test`;
# `make run-spendsense` serves SpendSense's API the same way; `make smoke` checks a running API
# end to end; `make check` a stack file, offline.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
PORT ?= 8000
# SpendSense's port: 8001 beside IRIS's, unless PORT is given.
SPENDSENSE_PORT := $(if $(filter-out file,$(origin PORT)),$(PORT),8001)
SPENDSENSE_DB := spendsense/data/spendsense.db
# pytest workers (pytest-xdist); the suite runs in about 3½ minutes on 2 cores with 2.
TEST_WORKERS ?= 2

.PHONY: run run-spendsense test bench smoke check clean spendsense-db deployer-policy boundary-policy \
	openapi browser

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (the Lambda base image runs 3.11); got " + sys.version' \
		|| { echo "Set PYTHON to a Python 3.11 interpreter, e.g. make PYTHON=/usr/bin/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.local-installed: $(BIN)/python pyproject.toml backend/requirements.txt local_api/requirements.txt \
		spendsense/backend/requirements.txt
	$(BIN)/python -m pip install --quiet -r local_api/requirements.txt
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml requirements.txt requirements-dev.txt backend/requirements.txt local_api/requirements.txt stack_check/requirements.txt \
		spendsense/backend/requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.local-installed $(VENV)/.check-installed

# Quiet, and to stderr: `make check > plan.txt` holds the plan only.
$(VENV)/.check-installed: $(BIN)/python pyproject.toml requirements.txt stack_check/requirements.txt
	@$(BIN)/python -m pip install --quiet -r stack_check/requirements.txt >&2
	@touch $@

run: $(VENV)/.local-installed
	$(BIN)/python -m local_api --stack $(STACK) --port $(PORT)

# make run-spendsense [STACK=dev] [PORT=8001]: the stack's shape (deployment) and CORS origins,
# over the sample database, written first if it is missing (DB_PATH=<file> serves another).
run-spendsense: $(VENV)/.local-installed | $(SPENDSENSE_DB)
	$(BIN)/python -m local_api --app spendsense --stack $(STACK) --port $(SPENDSENSE_PORT)

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(HAVE_BROWSER) || echo "make test: $(CHROMIUM) or $(CHROMEDRIVER) is missing, so the browser test (tests/frontend/) is skipped; \`make browser\` installs them"
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# make browser: the distribution's Chromium and its driver, which the browser test drives (nothing
# is downloaded when it runs); as root, or through sudo. .ci/run runs it before make test.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
HAVE_BROWSER := test -x $(CHROMIUM) -a -x $(CHROMEDRIVER)
AS_ROOT := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@if $(HAVE_BROWSER); then echo "browser: $(CHROMIUM) and $(CHROMEDRIVER) are installed"; else \
		$(AS_ROOT) apt-get update -qq && \
		$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; fi

# make smoke URL=<base url> [API_KEY=<key>] [ORIGIN=<origin>] [TIMEOUT=<seconds>]
# make smoke STACK=<stack>: the stack's apiUrl and first corsOrigins, read with the Pulumi CLI.
# APP=spendsense [USER_ID=<id>]: SpendSense's checks (its stack from spendsense/; default user
# one of the sample database's).
# URL wins when both are given (STACK defaults to dev). Standard library only, so no .venv.
# The key travels in the environment, never on a command line; $(value) keeps a '$' in it.
smoke: export SMOKE_API_KEY = $(value API_KEY)
smoke:
	$(PYTHON) -m smoke $(if $(APP),--app '$(APP)' )$(if $(URL),--url '$(URL)',--stack '$(STACK)')$(if $(ORIGIN), --origin '$(ORIGIN)')$(if $(TIMEOUT), --timeout '$(TIMEOUT)')$(if $(USER_ID), --user-id '$(USER_ID)')

# The SpendSense stack files a target plans: STACK's, or (make check without STACK) every one.
SPENDSENSE_STACK_FILES = $(if $(filter-out file,$(origin STACK)),spendsense/Pulumi.$(STACK).yaml,$(wildcard spendsense/Pulumi.*.yaml))
# With PROGRAM=spendsense, the sample database when one of the stack files $(1) uploads it
# (databaseFile: data/spendsense.db): written first if missing, as run-spendsense does.
SAMPLE_DB_IF_PLANNED = $(if $(filter spendsense,$(PROGRAM)),$(if $(shell grep -lsE '^[[:space:]]*spendsense-infra:databaseFile:[[:space:]]*"?data/spendsense\.db"?[[:space:]]*$$' $(1)),$(SPENDSENSE_DB)))

# make check [PROGRAM=spendsense] [STACK=<stack>] [PLACEHOLDER_SECRETS=1]: every Pulumi.<stack>.yaml (or the one
# given) validated and planned under Pulumi's mocks; no Pulumi CLI, login or AWS credentials.
# The plan goes to stdout, so `make check STACK=dev > plan.txt` on two commits diffs them.
check: $(VENV)/.check-installed | $(call SAMPLE_DB_IF_PLANNED,$(SPENDSENSE_STACK_FILES))
	@$(BIN)/python -m stack_check$(if $(PROGRAM), --program '$(PROGRAM)')$(if $(filter-out file,$(origin STACK)), --stack '$(STACK)')$(if $(PLACEHOLDER_SECRETS), --placeholder-secrets)

# make deployer-policy [PROGRAM=spendsense] STACK=<stack> [STATE_BUCKET=<bucket>|none]: the JSON
# policy of the role that runs pulumi up/refresh/destroy on that stack, on stdout and nothing
# else (`> policy.json`); make boundary-policy: the permissions boundary its roles carry. Both
# from the stack's own plan and names, offline.
POLICY_PROGRAM_DB = $(call SAMPLE_DB_IF_PLANNED,spendsense/Pulumi.$(STACK).yaml)
deployer-policy: $(VENV)/.check-installed | $(POLICY_PROGRAM_DB)
	@$(BIN)/python -m stack_check.deployer_policy$(if $(PROGRAM), --program '$(PROGRAM)') --stack '$(STACK)'$(if $(STATE_BUCKET), --state-bucket '$(STATE_BUCKET)')

boundary-policy: $(VENV)/.check-installed | $(POLICY_PROGRAM_DB)
	@$(BIN)/python -m stack_check.deployer_policy$(if $(PROGRAM), --program '$(PROGRAM)') --stack '$(STACK)' --boundary

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.handler_bench $(BENCH_ARGS)

# SpendSense's OpenAPI document from FastAPI's own generator; a test holds the committed file to it.
openapi: $(VENV)/.local-installed
	PYTHONPATH=spendsense/backend/src $(BIN)/python spendsense/scripts/openapi.py --out docs/openapi/spendsense.json

# SpendSense's sample database, the same bytes every run (standard library only, so no .venv;
# the schema comes from the functions' task root).
spendsense-db:
	PYTHONPATH=spendsense/backend/src $(PYTHON) spendsense/scripts/make_db.py --out spendsense/data/spendsense.db

# Quiet, and to stderr, like .check-installed: a target that prints JSON may need it first.
$(SPENDSENSE_DB):
	@PYTHONPATH=spendsense/backend/src $(PYTHON) spendsense/scripts/make_db.py --out $@ >&2

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

# Every target creates/updates .venv from pyproject.toml + constraints.txt first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEPLOY_STAMP := $(VENV)/.installed-deploy
export PATH := $(abspath $(BIN)):$(PATH)
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
SCALE ?= small

.PHONY: demo test test-deployment test-fast test-services ui docs browser-deps bench venv lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# the production shape's packages (PostgreSQL instance, Celery worker pool): tests only, not the demo
$(DEPLOY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,deploy]'
	touch $(DEPLOY_STAMP)

# the deployment tests start a real Redis and PostgreSQL 15; installed from Debian when missing (as root)
test-services:
	@for pair in redis-server:redis-server initdb:postgresql; do bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$bin >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/$$bin >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ]; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; } || exit 1; \
	  else echo "missing $$bin: run 'sudo apt-get install -y $$pkg' (the deployment tests need it)"; fi; \
	done

## Run the main job end to end on the embedded default (generated demo district, DuckDB).
demo: $(STAMP)
	$(BIN)/kinvolved demo

## Debian packages the tests need (the browser tests drive headless Chromium); CI runs as root.
browser-deps:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

## Run the whole test suite (unit, integration, reliability, browser, benchmark smoke).
test: $(DEPLOY_STAMP) browser-deps
	$(BIN)/kinvolved prepare-dbt
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=12 -m "not deployment"

## The production shape (PostgreSQL instance, Redis, two Celery workers): run by .ci/run after `make test`.
test-deployment: $(DEPLOY_STAMP) test-services
	$(BIN)/kinvolved prepare-dbt
	$(BIN)/python -m pytest -q -m deployment --durations=5

test-fast: $(DEPLOY_STAMP)
	$(BIN)/python -m pytest -q -m "not integration and not reliability and not bench"

## Start the Dagster UI on http://127.0.0.1:3000 with workspace.yaml, and the report server its
## validation/district report links point to (kinvolved serve-reports, http://127.0.0.1:3001).
## dagster dev runs in DAGSTER_HOME: started beside the repo's dagster.yaml (the template) it warns.
ui: $(STAMP)
	$(BIN)/kinvolved prepare-dbt
	mkdir -p $${KINVOLVED_HOME:-data}/dagster_home
	cp -n dagster.yaml $${KINVOLVED_HOME:-data}/dagster_home/dagster.yaml 2>/dev/null || true
	home=$$(cd $${KINVOLVED_HOME:-data} && pwd); export KINVOLVED_HOME=$$home DAGSTER_HOME=$$home/dagster_home; \
	$(BIN)/kinvolved serve-reports & reports=$$!; trap 'kill $$reports 2>/dev/null' EXIT INT TERM; \
	cd $$DAGSTER_HOME && $(abspath $(BIN))/python -W ignore::FutureWarning -m dagster dev -w $(CURDIR)/workspace.yaml -h 127.0.0.1 -p 3000

## dbt docs generated against a customer's published marts (default demo), served on 127.0.0.1:8080.
CUSTOMER ?= demo
DOCS_PORT ?= 8080
docs: $(STAMP)
	$(BIN)/kinvolved prepare-dbt
	$(BIN)/kinvolved docs --customer $(CUSTOMER) --serve --port $(DOCS_PORT)

bench: $(STAMP)
	$(BIN)/python -m bench --scale $(SCALE)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf data dbt_project/target dbt_project/logs

# Loket Impact Ondernemen. `make run` starts everything; `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The web app's own venv: no Rasa, so current aiohttp and SQLAlchemy (requirements-web.in says why).
VENV_WEB := .venv-web
STAMP_WEB := $(VENV_WEB)/.installed-stamp
RASA_ARGS := --domain domain --data data --config config.yml
export TF_CPP_MIN_LOG_LEVEL ?= 2
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1
export RASA_TELEMETRY_ENABLED ?= false
export PYTHONWARNINGS ?= ignore

.PHONY: run test check venv lint format validate train pytest stories bench bench-nlu bench-knowledge soak clean browser-deps

run: venv ## train if needed, load knowledge, start Rasa, action server and web app
	$(BIN)/loket run

test: venv lint validate train pytest stories ## every check CI runs

# The fast tier, while working: no trained model, PostgreSQL, browser or server processes.
FAST := not rasa and not browser and not postgres and not stack
check: venv lint ## lint, knowledge check, fast tests (a few minutes)
	$(BIN)/loket knowledge check
	$(BIN)/pytest -q -m "$(FAST)" $(PYTEST_ARGS)

venv: $(STAMP) $(STAMP_WEB) ## both venvs: .venv (Rasa, the CLI, tests) and .venv-web (the web app)

$(STAMP): pyproject.toml requirements.lock .python-version
	@test -x $(BIN)/python || { PY=$$(scripts/find-python.sh) && "$$PY" -m venv $(VENV); }
	@$(BIN)/python -c "import sys; assert sys.version_info[:2] == (3, 10), 'the .venv is not Python 3.10: remove .venv and run make again'"
	$(BIN)/pip install --quiet --upgrade "pip<25" wheel "setuptools<71"
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

$(STAMP_WEB): requirements-web.lock requirements-web-test.lock .python-version
	@test -x $(VENV_WEB)/bin/python || { PY=$$(scripts/find-python.sh) && "$$PY" -m venv $(VENV_WEB); }
	$(VENV_WEB)/bin/pip install --quiet --upgrade "pip<25"
	$(VENV_WEB)/bin/pip install --quiet -r requirements-web.lock -r requirements-web-test.lock
	@touch $(STAMP_WEB)

lint: venv
	$(BIN)/ruff check bot actions tests bench migrations

format: venv
	$(BIN)/ruff format bot actions tests bench && $(BIN)/ruff check --fix bot actions tests bench

validate: venv
	$(BIN)/loket knowledge check
	$(BIN)/python scripts/validate_data.py

train: venv
	$(BIN)/loket train

# axe-core for the browser tests, from the npm registry (tests/browser/node_modules is gitignored).
# Without npm the accessibility checks skip (CI has npm and sets LOKET_REQUIRE_BROWSER=1).
NPM := $(shell command -v npm 2>/dev/null)
AXE := tests/browser/node_modules/axe-core/axe.min.js

browser-deps: $(AXE)

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	@touch $@

pytest: venv $(if $(NPM),browser-deps)
	$(BIN)/pytest -q $(PYTEST_ARGS)

stories: venv
	$(BIN)/rasa test core --stories tests/test_stories.yml --model models \
	  --fail-on-prediction-errors --out results/stories

bench: venv ## side-by-side performance benchmark (not part of make test)
	$(BIN)/python -m bench.run_all

bench-nlu: venv
	$(BIN)/python -m bench.nlu

bench-knowledge: venv
	$(BIN)/python -m bench.knowledge

soak: venv
	$(BIN)/python -m bench.soak

clean:
	rm -rf models results .rasa var .pytest_cache .ruff_cache

# The two set-up commands of the README: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test bench install install-dev migrate messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	@# phonenumberslite (before the lead-local window) and phonenumbers share one package folder:
	@# uninstalling the old one would take files of the new one with it, so both go, then the pinned one.
	@if $(BIN)/python -m pip show -q phonenumberslite >/dev/null 2>&1; then \
		$(BIN)/python -m pip uninstall --quiet -y phonenumberslite phonenumbers; fi
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

## Start web, worker and beat (the Procfile) on embedded defaults, or on what .env / the environment say,
## plus local simulators of the providers that have no credentials (demo/launcher.py prints which).
run: migrate
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m demo.launcher --port $(PORT)

## Run the whole suite: Python tests (pytest; the fault drills in a run of their own, so that what a
## thousand other tests leave in the test process cannot hold their processes back), the VoxEngine
## scenario's type check against VoxImplant's typings (when npm could install them:
## telephony/voxengine/README.md, "Type check") and its tests (node).
test: install-dev
	$(BIN)/ruff check --select F,E9 --exclude $(VENV) .
	$(BIN)/python -m pytest -m "not drill"
	$(BIN)/python -m pytest -m drill
	@command -v node >/dev/null || { echo "node is needed for the VoxEngine scenario tests"; exit 1; }
	@command -v npm >/dev/null || { echo "npm is needed for the VoxEngine scenario's type check"; exit 1; }
	cd telephony/voxengine && npm ci --no-audit --no-fund --loglevel=error
	@if [ -f telephony/voxengine/node_modules/@voximplant/voxengine-ci/typings/voxengine.d.ts ]; then \
		cd telephony/voxengine && ./node_modules/.bin/tsc -p . && echo "VoxEngine scenario: type check passed"; \
	elif [ "$$VOXENGINE_TYPECHECK" = required ]; then \
		echo "VoxEngine scenario: the npm registry did not serve @voximplant/voxengine-ci"; exit 1; \
	else \
		echo "VoxEngine scenario: type check NOT RUN: the npm registry did not serve @voximplant/voxengine-ci"; \
	fi
	node --test telephony/voxengine/test/*.test.js

## The intake and scaling benchmarks (bench/README.md); installs wrk first when it is missing (Debian/Ubuntu).
bench: install
	@command -v wrk >/dev/null || { echo "installing wrk"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/scaling.py

## Refresh the Russian catalogue after changing user-facing text (needs GNU gettext), then translate
## the new entries in locale/ru/LC_MESSAGES/django.po and run it again to compile.
messages: install
	$(BIN)/python manage.py makemessages -l ru --ignore=.venv --ignore=tests --ignore=bench --no-obsolete
	$(BIN)/python manage.py compilemessages -l ru

clean:
	rm -rf $(VENV) var .pytest_cache

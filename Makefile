# The front door: `make run` and `make test` do the whole set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test lint format migrate seed bench clean

$(BIN)/activate:
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found; set PYTHON=…"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.requirements: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.requirements-dev: requirements.txt requirements-dev.txt $(VENV)/.requirements
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

migrate: $(VENV)/.requirements
	$(PY) manage.py migrate --no-input

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py collectstatic --no-input --verbosity 0
	rm -rf var/metrics
	@# On Ctrl-C the launcher gives every process time to stop and exits 0 (csintegration/procfile.py).
	$(PY) -m csintegration.procfile -f Procfile

test: $(VENV)/.requirements-dev
	$(BIN)/pytest

lint: $(VENV)/.requirements-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.requirements-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.requirements-dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var

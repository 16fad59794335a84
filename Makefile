# make demo: serve the sample project on http://127.0.0.1:8000
# make test: lint, types, the suite with coverage, then the Python/Django matrix

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST := 127.0.0.1
PORT := 8000

# python:Django pairs beside the main run (Django 5.2 on the default python3).
MATRIX ?= python3.10:5.2 python3.12:6.0 python3.12:6.1 python3.13:6.1

.PHONY: help venv lint types unit matrix test demo messages screenshots bench clean

help:
	@echo "make demo   serve the sample project on http://$(HOST):$(PORT) (HOST=, PORT= to change)"
	@echo "make test   lint, type-check and run every test"

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable . --group dev
	touch $@

venv: $(INSTALLED)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml

types: venv
	$(BIN)/mypy .

unit: venv
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=95

matrix:
	scripts/test-matrix $(MATRIX)

test: lint types unit matrix

# HOST and PORT choose where the demo listens: make demo PORT=8080
demo: venv
	@HOST=$(HOST) PORT=$(PORT) VENV_BIN=$(BIN) scripts/demo

# Ratios against the floor, a bare stack and the peers, in one run; the peers go
# into the benchmark's own virtualenv only. BENCH_INSTRUCTIONS=1 adds valgrind
# instruction counts.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: benchmarks/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet --editable . -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	@command -v wrk >/dev/null && command -v redis-server >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq wrk redis-server; }
	@if [ "$${BENCH_INSTRUCTIONS:-}" = 1 ] && ! command -v valgrind >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq valgrind; fi
	$(BENCH_VENV)/bin/python -m benchmarks.run

# The translation catalogs: new strings from the sources, then the .mo files the
# wheel carries (gettext's xgettext and msgfmt do the work).
messages: venv
	cd envmaintenance && ../$(BIN)/django-admin makemessages --all --add-location=file --no-obsolete
	cd envmaintenance && ../$(BIN)/django-admin compilemessages

# The README's pictures of the page, taken by the browser test: English in every
# size and scheme, one German and one Arabic.
screenshots: venv
	SCREENSHOT_DIR=docs $(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_browser.py \
		-k "captured and (not language or de-desktop-light or ar-phone-dark)"

clean:
	rm -rf $(VENV) .venv-* build dist .coverage htmlcov .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts

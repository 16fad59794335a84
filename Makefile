# make demo: serve the sample project on http://127.0.0.1:8000
# make test: lint, types, the suite with coverage, then the Python/Django matrix
# make constraints: pin the toolchain again, to its newest releases

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt
TOX := $(BIN)/tox
HOST := 127.0.0.1
PORT := 8000

.PHONY: help venv system-test pythons lint types docs unit wheel matrix test demo messages screenshots constraints bench bench-check clean

help:
	@echo "make demo   serve the sample project on http://$(HOST):$(PORT) (HOST=, PORT= to change)"
	@echo "make test   lint, types, docs, the whole suite, the built wheel, the matrix (tox)"
	@echo "make constraints   pin the toolchain again ($(CONSTRAINTS)), to its newest releases"

# .venv: the demo's servers and the contributor's tools, tox among them, at
# the versions $(CONSTRAINTS) pins (new pins install again).
$(INSTALLED): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) --editable . --group dev
	touch $@

venv: $(INSTALLED)

# The system programs and fonts the suite drives (scripts/system-packages lists
# them): as root, installs what is missing; otherwise stops here, before any
# test runs, naming each one and the command that installs them.
system-test:
	@scripts/system-packages test

# Each step is a tox environment (tox.ini), so a contributor can run any one
# alone: tox run -e docs.
lint types docs wheel: venv
	$(TOX) run -q -e $@

unit: venv
	$(TOX) run -q -e coverage

matrix: venv
	TOX=$(TOX) scripts/test-matrix

unit wheel matrix screenshots: system-test

# The interpreters of tox.ini, looked for before anything runs: a missing one
# stops the run at once, named, rather than after the suite.
pythons: venv
	@TOX=$(TOX) scripts/test-matrix --check

test: system-test pythons lint types docs unit wheel matrix

# HOST and PORT choose where the demo listens: make demo PORT=8080
demo: venv
	@scripts/system-packages demo
	@HOST=$(HOST) PORT=$(PORT) VENV_BIN=$(BIN) scripts/demo

# Every figure in one run (about 20 minutes on two idle cores): instructions
# per request counted under valgrind, wall-clock latency with a hung Redis,
# start-up, and 1,000 processes on one Redis (the simulation of
# tests/e2e/fleet_scale.py, which runs in .venv); the exit status says whether
# every target was met. bench-check judges the committed results again. The
# peers go into the benchmark's own virtualenv only.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: benchmarks/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet --editable . -r benchmarks/requirements.txt
	touch $@

bench: venv $(BENCH_VENV)/.installed
	@scripts/system-packages bench
	$(BENCH_VENV)/bin/python -m benchmarks.run

bench-check: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m benchmarks.run --check

# The translation catalogs: new strings from the sources, then the .mo files the
# wheel carries (gettext's xgettext and msgfmt do the work).
messages: venv
	@scripts/system-packages messages
	cd envmaintenance && ../$(BIN)/django-admin makemessages --all --add-location=file --no-obsolete
	cd envmaintenance && ../$(BIN)/django-admin compilemessages

# The README's pictures of the page, taken by the browser test: English in every
# size and scheme, one German and one Arabic.
screenshots: venv
	SCREENSHOT_DIR=docs $(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_browser.py \
		-k "captured and (not language or de-desktop-light or ar-phone-dark)"

# New pins: the dependency groups' newest releases on each Python the package
# supports (pyenv's count), written to $(CONSTRAINTS); then run make test.
constraints: venv
	$(BIN)/python scripts/update-constraints

clean:
	rm -rf $(VENV) .venv-* .tox build dist docs/_build docs/_generated .coverage htmlcov .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts

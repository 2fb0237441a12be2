# OsteoLens: `make demo` sets up and runs the platform on embedded defaults;
# `make test` sets up and passes the tests. Both work on a fresh machine.
# `make demo` needs Python 3.11, Node.js 20 and npm; `make test` also installs two Debian
# packages (Chromium, dicom3tools) with apt-get when they are missing.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
VAR := var
HOST ?= 127.0.0.1
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup setup-demo demo test test-gpu bench lint format viewer system-packages migrate clean

# --- set-up -------------------------------------------------------------------
.venv/.installed: pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(d["dependencies"] + d["optional-dependencies"]["dev"]))' > .venv/requirements.txt
	# torch first, from the pinned CPU wheel, so nothing pulls a CUDA build.
	$(PIP) install -q --disable-pip-version-check "$$(grep '^torch==' .venv/requirements.txt)"
	$(PIP) install -q --disable-pip-version-check -r .venv/requirements.txt
	touch $@

# Debian packages only the tests use: Chromium (browser tests) and dicom3tools
# (dciodvfy checks every DICOM we write). `make demo` does not need them.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v dciodvfy >/dev/null || missing="$$missing dicom3tools"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The viewer bundle is rebuilt only when its sources or the lock file change, so a
# second `make demo` starts in seconds.
VIEWER_SOURCES := $(shell find static/viewer -type f 2>/dev/null)
static/build/.built: node_modules/.installed package-lock.json $(VIEWER_SOURCES)
	npm run --silent build
	touch $@

viewer: static/build/.built

# What the demo needs: the Python packages and the viewer bundle.
setup-demo: .venv/.installed $(if $(wildcard package.json),viewer)

# What the tests need on top: the Debian packages above.
setup: setup-demo system-packages

migrate: setup-demo
	$(PY) manage.py migrate --noinput -v 0

# --- the two commands ---------------------------------------------------------
# Serves as soon as the database and the demo library exist (about a minute on a fresh
# machine); the models train in the background on the inference worker (progress at
# /demo/training/). QUICK=1 trains with the tiny recipe; SMALL=1 seeds a few cases only.
demo: migrate
	$(PY) manage.py seed_demo $(if $(SMALL),--small)
	$(PY) manage.py run_demo --host $(HOST) --port $(PORT) $(if $(QUICK),--quick)

test: setup
	$(PY) -m pytest

# The CUDA suite (tests/gpu): on a machine with an NVIDIA GPU; needs only the worker's
# packages, not Django. Not part of `make test`, which runs everywhere.
test-gpu:
	$(if $(wildcard $(PY)),$(PY),python3) -m pytest -c tests/gpu/pytest.ini tests/gpu

bench: setup
	mkdir -p $(VAR)/bench
	for b in tests/bench/bench_*.py; do echo "== $$b"; $(PY) $$b --out $(VAR)/bench/$$(basename $$b .py | sed 's/^bench_//').json || exit 1; done
	@echo "results in $(VAR)/bench/"

lint: .venv/.installed
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format: .venv/.installed
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

clean:
	rm -rf $(VAR) static/build node_modules .venv

# OsteoLens: `make demo` sets up and runs the platform on embedded defaults;
# `make test` sets up and passes the tests. Both work on a fresh machine.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
VAR := var
HOST ?= 127.0.0.1
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test test-gpu bench lint format viewer system-packages migrate clean

# --- set-up -------------------------------------------------------------------
.venv/.installed: pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(d["dependencies"] + d["optional-dependencies"]["dev"]))' > .venv/requirements.txt
	# torch first, from the pinned CPU wheel, so nothing pulls a CUDA build.
	$(PIP) install -q --disable-pip-version-check "$$(grep '^torch==' .venv/requirements.txt)"
	$(PIP) install -q --disable-pip-version-check -r .venv/requirements.txt
	touch $@

# Debian packages the tests and the demo use: Chromium (browser tests) and
# dicom3tools (dciodvfy checks every DICOM we write).
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

viewer: node_modules/.installed
	npm run --silent build

setup: .venv/.installed system-packages
	@if [ -f package.json ]; then $(MAKE) --no-print-directory viewer; fi

migrate: setup
	$(PY) manage.py migrate --noinput -v 0

# --- the two commands ---------------------------------------------------------
demo: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py train_demo_models
	$(PY) manage.py run_demo --host $(HOST) --port $(PORT)

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

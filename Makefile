# adlab — build, test and teaching-environment entry points.
#
# Everything the project needs is installed from here, so a fresh clone on a
# fresh Debian machine needs only `make test` (CI) or `make lab` (a learner).
# Debian packages come from apt-get, Python packages into $(VENV) from PyPI.

# The interpreter the venv is made from (>= 3.10); override with PYTHON=...
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
STAMP   = $(VENV)/.installed

# Quiet pip: short CI logs, no version nag, no progress bars.
PIP_QUIET = -q --disable-pip-version-check --progress-bar off

# Peers for `make bench`; keep in step with the [bench] extra in pyproject.toml.
BENCH_PEERS = micrograd==0.1.0 autograd

# Root only when not root already.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# JupyterHub's proxy for the class-mode tests (tests/test_hub_class.py), from npm into
# the venv; its major version is pinned.
CHP     = $(VENV)/node_modules/.bin/configurable-http-proxy
CHP_PKG = configurable-http-proxy@5

.DEFAULT_GOAL := help
.PHONY: help system setup hub-proxy test lab bench lint clean

help:  ## list the targets
	@echo "adlab make targets:"
	@echo "  make lab     set up, then open JupyterLab on notebooks/"
	@echo "  make test    set up, then run the test suite (what CI runs)"
	@echo "  make bench   set up, add the benchmark peers, run bench/run.py"
	@echo "  make lint    ruff check adlab course bench tests"
	@echo "  make setup   Debian packages (if missing) + $(VENV) with the project installed"
	@echo "  make system  only the Debian packages: graphviz, python3-venv (if missing);"
	@echo "               with WITH_BROWSER=1 also chromium, with WITH_SANDBOX=1 also"
	@echo "               bubblewrap, with WITH_HUB=1 also nodejs, npm and postgresql"
	@echo "               (make test sets all three)"
	@echo "  make hub-proxy  configurable-http-proxy from npm into $(VENV) (make test does)"
	@echo "  make clean   remove $(VENV), caches and build artifacts"

# ---------------------------------------------------------------------------
# System packages: graphviz's `dot` renders the computation graphs; on Debian
# the plain python3 lacks ensurepip (so `python3 -m venv` fails) without
# python3-venv; Debian's chromium is the browser tests/test_browser.py drives
# with Playwright (whose own browser download cannot be used here); nodejs and npm
# install JupyterHub's proxy for the class-mode tests; postgresql's initdb and pg_ctl
# start the throwaway server the class service's PostgreSQL tests use
# (tests/hub/postgres.py; Debian keeps them in /usr/lib/postgresql/<version>/bin, off
# PATH). Each is installed only when missing.
# ---------------------------------------------------------------------------
system:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	if [ -n "$(WITH_BROWSER)" ]; then \
	    [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || \
	        missing="$$missing chromium"; \
	fi; \
	if [ -n "$(WITH_SANDBOX)" ]; then \
	    command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	fi; \
	if [ -n "$(WITH_HUB)" ] && [ ! -x "$(CHP)" ]; then \
	    command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	fi; \
	if [ -n "$(WITH_HUB)" ] && ! command -v initdb >/dev/null 2>&1 && \
	        ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	    missing="$$missing postgresql"; \
	fi; \
	if [ ! -x "$(PY)" ] && ! $(PYTHON) -m ensurepip --version >/dev/null 2>&1; then \
	    missing="$$missing python3-venv"; \
	fi; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1; then \
	    echo "system: installing$$missing with apt-get"; \
	    { $(SUDO) apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	          --no-install-recommends $$missing >/dev/null; } || \
	    echo "system: WARNING: apt-get could not install$$missing; install it by hand"; \
	else \
	    echo "system: WARNING: no apt-get here; install by hand:$$missing"; \
	    echo "system:   graphviz     -> the 'dot' program (https://graphviz.org/download/)"; \
	    echo "system:   python3-venv -> a Python >= 3.10 whose 'python3 -m venv' works"; \
	    echo "system:   chromium     -> for the browser tests (or set ADLAB_CHROMIUM=/path)"; \
	    echo "system:   bubblewrap   -> the bwrap program that contains graded submissions"; \
	    echo "system:   nodejs npm   -> Node.js >= 20 and npm, for JupyterHub's proxy (tests)"; \
	    echo "system:   postgresql   -> initdb and pg_ctl, for the service's PostgreSQL tests"; \
	fi

# ---------------------------------------------------------------------------
# The virtualenv, with the project installed editable plus test and dev extras.
# Redone when pyproject.toml changes.
# ---------------------------------------------------------------------------
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
	    echo "setup: need Python >= 3.10 as '$(PYTHON)' (found: $$($(PYTHON) --version 2>&1));"; \
	    echo "setup: run e.g. 'make PYTHON=python3.11 ...'"; exit 1; }
	@if ! $(PY) -m pip --version >/dev/null 2>&1; then \
	    echo "setup: creating $(VENV) with $$($(PYTHON) --version)"; \
	    rm -rf $(VENV); \
	    $(PYTHON) -m venv $(VENV) || { \
	        echo "setup: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3-venv"; \
	        exit 1; }; \
	fi
	@echo "setup: installing adlab[test,dev] into $(VENV) (a few minutes the first time)"
	$(PIP) install $(PIP_QUIET) --upgrade pip
	$(PIP) install $(PIP_QUIET) -e ".[test,dev]"
	@touch $@

setup: system $(STAMP)

# configurable-http-proxy into $(VENV)/node_modules, once (tests/hub/fixture.py finds it
# there; `make clean` removes it with the venv). Without npm the hub tests cannot run: a
# warning here, and under CI they fail rather than skip.
$(CHP):
	@if command -v npm >/dev/null 2>&1; then \
	    echo "hub-proxy: installing $(CHP_PKG) with npm into $(VENV)"; \
	    npm install --prefix $(VENV) --no-audit --no-fund --loglevel=error $(CHP_PKG) \
	        >/dev/null || echo "hub-proxy: WARNING: npm could not install $(CHP_PKG)"; \
	else \
	    echo "hub-proxy: WARNING: no npm; install nodejs and npm, then run make hub-proxy"; \
	fi

hub-proxy: $(CHP)

# ---------------------------------------------------------------------------
# Day-to-day targets
# ---------------------------------------------------------------------------
# The browser tests need Debian's chromium, the grading tests Debian's bubblewrap (the
# sandbox `course grade` runs submissions in), the class-mode tests a real JupyterHub
# and its proxy (nodejs, npm, configurable-http-proxy), the class service's PostgreSQL
# tests a PostgreSQL server (postgresql); `make lab` needs none of them.
test: WITH_BROWSER = 1
test: WITH_SANDBOX = 1
test: WITH_HUB = 1
test: setup hub-proxy
	$(PY) -m pytest -q

# Jupyter refuses to start as root (containers, CI boxes) without --allow-root.
lab: setup
	@mkdir -p notebooks
	$(VENV)/bin/jupyter lab $(if $(SUDO),,--allow-root) notebooks/

# The peers are optional: one that will not install is reported and skipped, and its
# benchmarks print a skip line. PyTorch is not in the [bench] extra (nor in any other):
# it is installed pinned, in a step of its own, and only when pip's plan for it has no
# CUDA packages (nvidia-*, triton), which an ordinary PyPI torch on Linux pulls (GBs).
# adlab is profiled where it misses a goal; more options for bench/run.py go in
# BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick --out /tmp/bench --threads 2".
bench: setup
	@skipped=""; \
	if ! $(PIP) install $(PIP_QUIET) -e ".[bench]"; then \
	    echo "bench: the [bench] extra did not install as a whole; trying each peer"; \
	    for p in $(BENCH_PEERS); do \
	        $(PIP) install $(PIP_QUIET) "$$p" || { \
	            echo "bench: could not install peer $$p"; skipped="$$skipped $$p"; }; \
	    done; \
	fi; \
	torch=torch==2.13.0; \
	plan=$$($(PIP) install $(PIP_QUIET) --dry-run --report - "$$torch" 2>/dev/null | \
	    $(PY) -c 'import json, sys; print(" ".join(i["metadata"]["name"].lower() for i in json.load(sys.stdin)["install"]))' 2>/dev/null); \
	if [ $$? -ne 0 ]; then \
	    echo "bench: pip finds no $$torch for this machine; PyTorch skipped"; \
	    skipped="$$skipped $$torch"; \
	elif echo " $$plan" | grep -qE ' (nvidia-|triton|cuda)'; then \
	    echo "bench: $$torch from this index would pull CUDA packages ($$plan);"; \
	    echo "bench:   PyTorch skipped; install a CPU-only build of $$torch by hand to compare with it"; \
	    skipped="$$skipped $$torch"; \
	elif [ -n "$$plan" ]; then \
	    echo "bench: installing $$torch (no CUDA packages in the plan: $$plan)"; \
	    $(PIP) install $(PIP_QUIET) "$$torch" || { \
	        echo "bench: could not install $$torch; PyTorch skipped"; skipped="$$skipped $$torch"; }; \
	fi; \
	if [ -n "$$skipped" ]; then \
	    echo "bench: peers SKIPPED:$$skipped (their benchmarks print a skip line)"; \
	else \
	    echo "bench: peers installed: $(BENCH_PEERS) $$torch"; \
	fi
	$(PY) bench/run.py --profile $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check adlab course bench tests

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .ruff_cache
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

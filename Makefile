# Every target creates what it needs: the virtualenv, the package, the test servers.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit lint typecheck bench bench-check bench-peers docs dashboards clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The live view (printed address, /ui/) stays up DEMO_HOLD seconds after the run; Ctrl-C ends it.
DEMO_HOLD ?= 120
demo: $(STAMP)
	$(VENV)/bin/kaizen-otel demo --hold $(DEMO_HOLD)

test: $(STAMP)
	$(PY) -m tests.testbed.install
	$(PY) -m pytest -q

test-unit: $(STAMP)
	$(PY) -m pytest -q -m "not integration"

lint: $(STAMP)
	$(VENV)/bin/ruff check kaizen_otel tests benchmarks deploy
	$(VENV)/bin/ruff format --check kaizen_otel tests benchmarks deploy

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m benchmarks

bench-check: $(STAMP)
	$(PY) -m benchmarks.check

# Peer SDKs (logfire, openlit, traceloop) each in .venv-peers/<name>, pinned; never in `make test`.
bench-peers: $(STAMP)
	$(PY) -m benchmarks.peers

docs: $(STAMP)
	$(PY) -m kaizen_otel.cli config --markdown > docs/configuration.md

dashboards: $(STAMP)
	$(PY) deploy/grafana/dashboards.py

clean:
	rm -rf $(VENV) .venv-peers .pytest_cache .ruff_cache .mypy_cache .testbed .bench

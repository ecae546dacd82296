# The two commands: `make demo` and `make test`. Both bootstrap what they need.
VENV := .venv
PY := $(VENV)/bin/python
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: setup demo test bench lint

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@$(PY) -m cli.demo

test: setup
	@$(VENV)/bin/lint-imports --no-cache
	@$(VENV)/bin/mypy
	@$(VENV)/bin/interrogate core connectors hub web flows cli
	@$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	@$(PY) -m bench

lint: setup
	@$(VENV)/bin/ruff check core connectors hub web flows cli sandbox tests bench

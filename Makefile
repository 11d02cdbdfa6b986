# Two entry points for a fresh machine with Python 3.11: `make demo` and `make test`.
# The virtualenv is rebuilt only when pyproject.toml changes (the stamp file tracks it).
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin

.PHONY: install demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diga-assets demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# One worker per core; a module's tests stay on one worker, so its module-scoped pipeline runs once.
test: lint
	$(BIN)/python -m pytest -n auto --dist loadscope

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

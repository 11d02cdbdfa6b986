# Two entry points for a fresh machine with Python 3.11: `make demo` and `make test`.
# The virtualenv holds exactly what uv.lock pins (the dev and deploy extras); it is synced again
# only when pyproject.toml or uv.lock changes (the stamp file tracks them).
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin
# uv from the PATH, else this release from PyPI in .tools/ (the lock's format is uv's).
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
# The image installs from this export of the lock (pip, hash-checked); `make lock` rewrites both.
IMAGE_REQUIREMENTS := deploy/requirements.txt
EXPORT_LOCK = { echo '\# The deploy extra as uv.lock pins it, for deploy/Dockerfile. Written by make lock: do not edit.'; \
	$(UV) export --frozen --quiet --extra deploy --no-emit-project --no-header --format requirements-txt; }

.PHONY: install demo test test-fast test-install lint lock lock-check clean

install: $(STAMP)

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'

# --compile-bytecode: uv, unlike pip, leaves the packages uncompiled, and where the environment
# says PYTHONDONTWRITEBYTECODE (as this project's machines do) no process ever writes the cache, so
# each one compiled Dagster, pandas and the rest from source again on import (about 1 s of CPU for
# every command, run worker and test subprocess).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) --extra dev --extra deploy
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diga-assets demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# A module's tests stay on one worker, so its module-scoped pipeline runs once; modules go to the
# workers in the order conftest.py sorts them (the slowest families first), not by test count.
# One worker more than the machine has cores: the slow families spend much of their time waiting
# (the backfill daemon's 30 s ticks, API latency, processes starting), and the extra worker keeps
# the cores busy meanwhile (a fourth worker on two cores was slower again).
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder

# The ten slowest tests close the output, so a run says where the suite's time goes.
test: lint
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m "not install" --durations=10

# The edit loop: everything but the slow families (the UI in a browser, PostgreSQL, whole
# commands end to end, the benchmarks); make test runs them all.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_XDIST) -m "not (browser or postgres or e2e or bench or install)"

# The project installed as users install it: fresh virtualenvs of Python 3.11, 3.12 and 3.13 with
# the pip each ships, and the image's install steps with pip 24.0 (minutes: downloads). CI runs it.
test-install: $(STAMP)
	$(BIN)/python -m pytest -n auto -m install diga_assets_tests/install

# After changing a dependency range in pyproject.toml, or to take newer releases within the
# ranges (`make lock UPGRADE=1`): re-resolve uv.lock and re-export the image's requirements.
lock: | $(UV)
	$(UV) lock $(if $(UPGRADE),--upgrade)
	$(EXPORT_LOCK) > $(IMAGE_REQUIREMENTS)

# Fails when uv.lock no longer matches pyproject.toml, or the image's export no longer matches
# uv.lock (CI runs it).
lock-check: | $(UV)
	$(UV) lock --check
	$(EXPORT_LOCK) | diff -u $(IMAGE_REQUIREMENTS) - \
		|| { echo "$(IMAGE_REQUIREMENTS) is stale: run make lock" >&2; exit 1; }

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache

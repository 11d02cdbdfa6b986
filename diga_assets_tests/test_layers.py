"""The package's layers are enforced: the import-linter contracts in pyproject.toml hold for the
package as it is, and each of them breaks when a copy of the package is given the import it
forbids (so a contract that can no longer fail would be noticed here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import diga_assets

PACKAGE = Path(diga_assets.__file__).resolve().parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the ``diga_assets`` package found under ``root``."""
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache", *selected],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package under ``tmp_path``, for the contracts to find instead of the original."""
    shutil.copytree(PACKAGE, tmp_path / "diga_assets", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_package_keeps_every_contract(package_copy):
    result = lint_imports(package_copy)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract", "names"),
    [
        ("api/errors.py", "import dagster", "api-without-dagster", "diga_assets.api.errors -> dagster"),
        ("definitions.py", "import diga_assets.simulator", "code-location-without-tools", "diga_assets.definitions"),
        ("definitions.py", "import diga_assets.simulator", "layers", "diga_assets.definitions"),
        ("storage/layout.py", "import diga_assets.analysis.views", "layers", "diga_assets.storage.layout"),
        (
            "assets/metrics/daily.py",
            "import diga_assets.assets.raw.calls",
            "asset-layers",
            "diga_assets.assets.metrics",
        ),
        ("simulator/world.py", "import dagster", "simulator-beside", "diga_assets.simulator.world -> dagster"),
        ("assets/report/data.py", "import diga_assets.assets.report.charts", "no-cycles", "diga_assets.assets.report"),
    ],
)
def test_each_contract_breaks_on_the_import_it_forbids(package_copy, module, forbidden_import, contract, names):
    with (package_copy / "diga_assets" / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{forbidden_import}  # added by the test\n")

    result = lint_imports(package_copy, contract)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout
    assert names in result.stdout

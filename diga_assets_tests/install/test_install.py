"""The project installs wherever its users install it, in fresh virtualenvs, without upgrading pip.

- Every Python that ``requires-python`` allows (3.11, 3.12, 3.13), with the pip it ships:
  ``pip install ".[deploy]"`` (what a team's requirements or the README ask) resolves and
  installs, and the code location then loads (``dagster definitions validate``) printing no
  warning the project causes.
- pip 24.0 on 3.11 (what ``python:3.11-slim`` ships): the same command resolves (``--dry-run``),
  and the image's install steps, as ``deploy/Dockerfile`` writes them, install exactly the locked
  versions and give a code location that loads.

These download and install about a hundred packages each, so they are not in ``make test``:
``make test-install`` runs them, and CI runs both (``.ci/run``).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from diga_assets_tests.deploy.deployment import PROJECT_ROOT, dockerfile_instructions

INSTALL_TIMEOUT_S = 900
# Each downloads and installs about a hundred packages: longer than the suite's 300 s a test.
pytestmark = [pytest.mark.install, pytest.mark.timeout(INSTALL_TIMEOUT_S * 2)]

# What the package build reads, as the image copies it.
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "diga_assets")
# The pip python:3.11-slim ships (and pip 24.0 is the last of the resolvers that failed before).
IMAGE_PIP = "24.0"


def interpreter(version: str) -> str:
    """The python of ``version`` (``3.12``): on the PATH, else under pyenv (where every machine of
    this project keeps 3.11, 3.12 and 3.13)."""
    candidates = [shutil.which(f"python{version}")]
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    pytest.fail(f"Python {version} is not on this machine (PATH or {root}/versions)")


def run(command: list[str] | str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        shell=isinstance(command, str),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def fresh_venv(python: str, where: Path, pip: str | None = None) -> Path:
    """A new virtualenv with the pip ``python`` ships (or exactly ``pip``); its bin folder."""
    run([python, "-m", "venv", str(where)], where.parent)
    if pip:
        run([str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", f"pip=={pip}"], where.parent)
    return where / "bin"


def copy_sources(into: Path) -> Path:
    """The package's sources in a folder of their own, as a user's checkout or the image has them
    (a build writes beside them, and tests run side by side)."""
    into.mkdir(parents=True)
    for name in PACKAGE_SOURCES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, into / name)
    return into


def locked_for_this_python(export: Path) -> dict[str, str]:
    """Package to version, as the lock's export pins them for this Python (the lock is universal:
    a package may be pinned at one version below 3.12 and another above, by a marker). The image
    and this test run Python 3.11, so this interpreter's markers are theirs."""
    pinned = {}
    for line in export.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            requirement = Requirement(line.rstrip(" \\"))
            if requirement.marker is None or requirement.marker.evaluate():
                [specifier] = requirement.specifier
                pinned[canonicalize_name(requirement.name)] = specifier.version
    return pinned


def loads(bin_dir: Path, tmp_path: Path) -> str:
    """``dagster definitions validate`` of the installed code location, from a folder holding no
    source (so the installed package is what loads), with an instance of its own."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DIGA_", "DAGSTER_", "VIRTUAL"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", DAGSTER_HOME=str(home), DIGA_DATA_DIR=str(tmp_path / "data"))
    output = run([str(bin_dir / "dagster"), "definitions", "validate", "-m", "diga_assets.definitions"], home, env)
    assert "Validation successful for code location diga_assets.definitions" in output, output
    assert not [line for line in output.splitlines() if "BetaWarning" in line or "PreviewWarning" in line], output
    return output


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_pip_install_deploy_extra_with_the_pip_each_python_ships_and_the_definitions_load(tmp_path, version):
    bin_dir = fresh_venv(interpreter(version), tmp_path / "venv")
    shipped = run([str(bin_dir / "pip"), "--version"], tmp_path)
    source = copy_sources(tmp_path / "checkout")

    run([str(bin_dir / "pip"), "install", "--quiet", ".[deploy]"], source)

    loads(bin_dir, tmp_path)
    installed = run([str(bin_dir / "pip"), "list", "--format=freeze"], tmp_path)
    assert "s3fs" not in installed and "aiobotocore" not in installed
    assert re.match(r"pip \d+", shipped) and "pip==" in installed


def test_the_image_install_steps_as_written_with_pip_24_install_the_lock_and_load(tmp_path):
    bin_dir = fresh_venv(interpreter("3.11"), tmp_path / "venv", pip=IMAGE_PIP)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    # The project's ranges resolve with this pip too (no backtracking into a yanked fsspec).
    run(
        [str(bin_dir / "pip"), "install", "--dry-run", "--quiet", ".[deploy]"], copy_sources(tmp_path / "checkout"), env
    )

    # The Dockerfile's WORKDIR, filled by its COPY instructions, its pip steps run as written.
    app = tmp_path / "app"
    app.mkdir()
    steps = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY" and not arguments.startswith("deploy/dagster") and "workspace" not in arguments:
            *sources, target = shlex.split(arguments)
            for source in sources:
                destination = app / target / Path(source).name if target.endswith("/") else app / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                if (PROJECT_ROOT / source).is_dir():
                    shutil.copytree(PROJECT_ROOT / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(PROJECT_ROOT / source, destination)
        elif instruction == "RUN" and "pip " in arguments:
            steps.append(arguments)
            run(arguments, app, env)

    assert steps == [
        "pip install --no-deps --require-hashes -r deploy/requirements.txt",
        "pip install --no-deps . && pip check",
    ]
    loads(bin_dir, tmp_path)
    # Exactly the locked versions: every package installed is one the export pins, at its version.
    locked = locked_for_this_python(app / "deploy/requirements.txt")
    # pip and setuptools come with the virtualenv, as they come with the image's Python.
    frozen = run(
        [str(bin_dir / "pip"), "list", "--format=freeze", "--exclude", "pip", "--exclude", "setuptools"], tmp_path, env
    )
    installed = dict(line.split("==", 1) for line in frozen.splitlines() if "==" in line)
    for name, version in installed.items():
        if canonicalize_name(name) == "diga-assets":
            continue
        assert locked.get(canonicalize_name(name)) == version, f"{name}=={version} is not what the lock pins"

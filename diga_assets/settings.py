"""Settings read from the environment once, validated, and named in every error.

A wrong setting fails when the code location loads, with a message that names the variable,
instead of surfacing later as a confusing error deep inside a run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diga_assets.api.client import DEFAULT_BASE_URL, check_base_url
from diga_assets.privacy import HASH_KEY_VAR, PSEUDONYMIZE_VAR, hash_key_problem
from diga_assets.resources import DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY_LIMIT

DEFAULT_START_DATE = date(2026, 1, 1)
DEFAULT_TIMEZONE = "UTC"
DEFAULT_TRAILING_DAYS = 2

PACKAGE_DIR = Path(__file__).resolve().parent


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use."""


def project_root() -> Path:
    """The checkout holding this package (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Where data lives, which days exist, in which time zone, and which API to call."""

    data_dir: Path
    start_date: date
    timezone: str
    api_base_url: str
    trailing_days: int
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    # Whether contact_identifier is stored as an HMAC (diga_assets/privacy.py). The HMAC key is
    # not kept here: the storage resource reads it through dg.EnvVar at run time.
    pseudonymize_contacts: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``DIGA_*`` variables; raise ``SettingsError`` naming the first bad one."""
        env = os.environ if env is None else env
        raw_dir = env.get("DIGA_DATA_DIR") or str(project_root() / "data")
        data_dir = Path(raw_dir).expanduser()
        if not data_dir.is_absolute():
            data_dir = Path.cwd() / data_dir
        if data_dir.exists() and not data_dir.is_dir():
            raise SettingsError(f"DIGA_DATA_DIR={raw_dir!r} exists and is not a directory")
        # A file on the way to the directory means it can never be created. Permissions are left
        # to the run (DigaStorage.check_writable): they belong to whoever runs the step, which in
        # a deployment is not always the process that loads the code location.
        blocker = next((parent for parent in data_dir.parents if parent.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise SettingsError(f"DIGA_DATA_DIR={raw_dir!r} cannot be created: {str(blocker)!r} is a file")

        raw_start = env.get("DIGA_START_DATE") or DEFAULT_START_DATE.isoformat()
        try:
            start_date = date.fromisoformat(raw_start)
        except ValueError:
            raise SettingsError(f"DIGA_START_DATE={raw_start!r} is not a date in YYYY-MM-DD form") from None
        if len(raw_start) != 10:
            raise SettingsError(f"DIGA_START_DATE={raw_start!r} is not a date in YYYY-MM-DD form")

        timezone = env.get("DIGA_TIMEZONE") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"DIGA_TIMEZONE={timezone!r} is not a known IANA time zone (e.g. UTC, Europe/Madrid)"
            ) from None

        base_url = env.get("DIGA_API_BASE_URL") or DEFAULT_BASE_URL
        try:
            base_url = check_base_url(base_url)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

        trailing_days = _whole_number(env, "DIGA_TRAILING_DAYS", DEFAULT_TRAILING_DAYS, 0, 31)
        max_concurrency = _whole_number(env, "DIGA_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY, 1, MAX_CONCURRENCY_LIMIT)

        pseudonymize_contacts = _flag(env, PSEUDONYMIZE_VAR)
        # Checked here so a missing or short key fails the load, not the first run; only its
        # length is looked at, and the message never holds it.
        if pseudonymize_contacts and (problem := hash_key_problem(env.get(HASH_KEY_VAR))):
            raise SettingsError(problem)

        return cls(
            data_dir=data_dir,
            start_date=start_date,
            timezone=timezone,
            api_base_url=base_url,
            trailing_days=trailing_days,
            max_concurrency=max_concurrency,
            pseudonymize_contacts=pseudonymize_contacts,
        )


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """The variable ``name`` as an int within [low, high] (``default`` when unset), or a
    ``SettingsError`` naming it."""
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} must be a whole number from {low} to {high}")
    return value


_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false", ""})


def _flag(env: Mapping[str, str], name: str) -> bool:
    """The variable ``name`` as an on/off switch (1/true or 0/false, off when unset), or a
    ``SettingsError`` naming it: a typo such as ``yes`` must not quietly mean off."""
    raw = env.get(name, "")
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise SettingsError(f"{name}={raw!r} must be 1, 0, true or false")
    return value in _TRUE

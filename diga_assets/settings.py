"""Settings, validated once, and named in every error: read from the environment (``DIGA_*``)
for the code location ``diga_assets.definitions``, or given by ``DigaComponent``'s attributes.

A wrong setting fails when the code location loads, with a message that names the variable (or
the attribute), instead of surfacing later as a confusing error deep inside a run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from diga_assets.api.client import DEFAULT_BASE_URL, check_base_url
from diga_assets.names import UNPREFIXED, Names
from diga_assets.privacy import HASH_KEY_VAR, PSEUDONYMIZE_VAR, hash_key_problem

DEFAULT_START_DATE = date(2026, 1, 1)
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class WholeNumberRule:
    """The default and bounds of a whole-number setting: the one statement of them, read by
    ``Settings.from_env`` and by the resource field that carries the value into runs."""

    default: int
    low: int
    high: int


# Days before yesterday that the daily calls schedule fetches again.
TRAILING_DAYS = WholeNumberRule(default=2, low=0, high=31)
# Stored days the daily audit asks the API about (one request each): a quarter by default.
AUDIT_DAYS = WholeNumberRule(default=90, low=0, high=3660)
# Minutes between refreshes of today's calls (0: no today partition, no refresh). The refresh's
# cron fires at the minutes of each hour that are multiples of it, so up to an hour.
INTRADAY_MINUTES = WholeNumberRule(default=15, low=0, high=60)
# Days of a backfill fetched at once. 4 keeps an API with tens of milliseconds of latency busy on
# a 2-core machine without leaning hard on its rate limits; past 32 the threads only contend.
MAX_CONCURRENCY = WholeNumberRule(default=4, low=1, high=32)
# Days per run when a backfill is split into several runs (unset: one run for the whole range).
BACKFILL_DAYS_PER_RUN = WholeNumberRule(default=0, low=1, high=3660)
# The plan's cap on concurrent calls: call_concurrency's WARN check flags the hours at or above it
# (unset: no check against a cap).
CONCURRENCY_LIMIT = WholeNumberRule(default=0, low=1, high=1_000_000)

# Switches the transcripts sensor on (diga_call_messages, call_conversation_stats).
TRANSCRIPTS_VAR = "DIGA_TRANSCRIPTS"
# The user's own call outcome map (analysis/outcome_map.py); the package's when unset.
OUTCOME_MAP_VAR = "DIGA_OUTCOME_MAP"
PACKAGE_DIR = Path(__file__).resolve().parent
# Bucket names as S3 allows them (3 to 63 characters of lowercase letters, digits, dots and
# hyphens, beginning and ending with a letter or digit).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class SettingsError(ValueError):
    """A setting (an environment variable, a component attribute) holds a value the project cannot use."""


def project_root() -> Path:
    """The checkout holding this package (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


# The variable each setting is read from by ``Settings.from_env`` (the code location
# diga_assets.definitions, the analyst's session, the demo).
ENV_VARS = {
    "data_dir": "DIGA_DATA_DIR",
    "start_date": "DIGA_START_DATE",
    "timezone": "DIGA_TIMEZONE",
    "api_base_url": "DIGA_API_BASE_URL",
    "trailing_days": "DIGA_TRAILING_DAYS",
    "max_concurrency": "DIGA_MAX_CONCURRENCY",
    "backfill_days_per_run": "DIGA_BACKFILL_DAYS_PER_RUN",
    "audit_days": "DIGA_AUDIT_DAYS",
    "intraday_minutes": "DIGA_INTRADAY_MINUTES",
    "concurrency_limit": "DIGA_CONCURRENCY_LIMIT",
    "tariff": "DIGA_TARIFF",
    "pseudonymize_contacts": PSEUDONYMIZE_VAR,
    "transcripts": TRANSCRIPTS_VAR,
    "outcome_map": OUTCOME_MAP_VAR,
}
API_KEY_VAR = "DIGA_API_KEY"


@dataclass(frozen=True)
class Settings:
    """Where data lives, which days exist, in which time zone, which API to call, and the names
    the graph has in Dagster: everything the definitions are built from.

    ``from_env`` reads them from the ``DIGA_*`` variables (the code location
    ``diga_assets.definitions``); ``DigaComponent`` from its ``defs.yaml`` attributes. Both go
    through ``parse``, so a value is checked the same way whichever way it came, and the error
    names where it came from (``label``).
    """

    # A local directory, or s3://bucket/prefix for an S3-compatible bucket.
    data_dir: Path | str
    start_date: date
    timezone: str
    api_base_url: str
    trailing_days: int
    max_concurrency: int = MAX_CONCURRENCY.default
    # Whether contact_identifier is stored as an HMAC (diga_assets/privacy.py). The HMAC key is
    # not kept here: the storage resource reads it through dg.EnvVar(contact_hash_key_var) at run time.
    pseudonymize_contacts: bool = False
    # Split a backfill into runs of this many days (None: one run for the whole range).
    backfill_days_per_run: int | None = None
    # How many stored days, back from yesterday, the daily audit compares with the API (0: off).
    audit_days: int = AUDIT_DAYS.default
    # Minutes between refreshes of today's calls, raw, curated and metrics (0: off, and no
    # partition for today).
    intraday_minutes: int = INTRADAY_MINUTES.default
    # The plan's cap on concurrent calls, which call_concurrency's WARN check compares each hour's
    # peak with (None: no cap to compare with).
    concurrency_limit: int | None = None
    # Whether the transcripts sensor starts running (DIGA_TRANSCRIPTS): transcripts hold what
    # callers said, so nothing fetches them until someone decides to.
    transcripts: bool = False
    # The outcome map CSV (absolute), or None for the one in the package.
    outcome_map: Path | None = None
    # The user's tariff CSV (absolute; analysis/tariff.py), or None: call_kpis's cost is NULL.
    tariff: Path | None = None
    # Asset keys under a prefix, jobs, schedules and the pool named after it (several instances
    # of the graph in one project), and how a user re-runs its days.
    names: Names = UNPREFIXED
    # The names of the variables holding the secrets: only names are kept, never the values.
    api_key_var: str = API_KEY_VAR
    contact_hash_key_var: str = HASH_KEY_VAR
    # How a setting is named in an error (by default its DIGA_* variable).
    label: Callable[[str], str] = field(default=ENV_VARS.__getitem__, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``DIGA_*`` variables; raise ``SettingsError`` naming the first bad one."""
        env = os.environ if env is None else env
        return cls.parse(
            {setting: env.get(variable) for setting, variable in ENV_VARS.items()},
            relative_to=Path.cwd(),
            hash_key=env.get(HASH_KEY_VAR),
        )

    @classmethod
    def parse(
        cls,
        raw: Mapping[str, str | None],
        *,
        relative_to: Path,
        hash_key: str | None,
        label: Callable[[str], str] = ENV_VARS.__getitem__,
        names: Names = UNPREFIXED,
        api_key_var: str = API_KEY_VAR,
        contact_hash_key_var: str = HASH_KEY_VAR,
    ) -> Settings:
        """Settings from text values by setting name (unset: None or empty), relative paths taken
        from ``relative_to``; raise ``SettingsError`` naming the first bad one by ``label``.

        ``hash_key`` is the value of ``contact_hash_key_var``: only its length is looked at, so
        that a missing or short key fails the load instead of the first run, and no message holds it.
        """

        def value(setting: str) -> str | None:
            return raw.get(setting) or None

        data_dir = _data_dir(label("data_dir"), value("data_dir") or str(project_root() / "data"), relative_to)

        raw_start = value("start_date") or DEFAULT_START_DATE.isoformat()
        try:
            start_date = date.fromisoformat(raw_start)
        except ValueError:
            start_date = None
        if start_date is None or len(raw_start) != 10:
            raise SettingsError(f"{label('start_date')}={raw_start!r} is not a date in YYYY-MM-DD form")

        timezone = value("timezone") or DEFAULT_TIMEZONE
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{label('timezone')}={timezone!r} is not a known IANA time zone (e.g. UTC, Europe/Madrid)"
            ) from None

        base_url = value("api_base_url") or DEFAULT_BASE_URL
        try:
            base_url = check_base_url(base_url)
        except ValueError as exc:
            raise SettingsError(f"{label('api_base_url')}: {exc}") from None

        trailing_days = _whole_number(label("trailing_days"), value("trailing_days"), TRAILING_DAYS)
        max_concurrency = _whole_number(label("max_concurrency"), value("max_concurrency"), MAX_CONCURRENCY)
        backfill_days_per_run = (
            _whole_number(label("backfill_days_per_run"), value("backfill_days_per_run"), BACKFILL_DAYS_PER_RUN)
            if value("backfill_days_per_run")
            else None
        )

        audit_days = _whole_number(label("audit_days"), value("audit_days"), AUDIT_DAYS)
        intraday_minutes = _whole_number(label("intraday_minutes"), value("intraday_minutes"), INTRADAY_MINUTES)
        concurrency_limit = (
            _whole_number(label("concurrency_limit"), value("concurrency_limit"), CONCURRENCY_LIMIT)
            if value("concurrency_limit")
            else None
        )

        pseudonymize_contacts = _flag(label("pseudonymize_contacts"), value("pseudonymize_contacts"))
        if pseudonymize_contacts and (problem := hash_key_problem(hash_key, contact_hash_key_var)):
            raise SettingsError(problem)

        outcome_map = value("outcome_map")
        tariff = value("tariff")
        return cls(
            data_dir=data_dir,
            start_date=start_date,
            timezone=timezone,
            api_base_url=base_url,
            trailing_days=trailing_days,
            max_concurrency=max_concurrency,
            pseudonymize_contacts=pseudonymize_contacts,
            backfill_days_per_run=backfill_days_per_run,
            audit_days=audit_days,
            intraday_minutes=intraday_minutes,
            concurrency_limit=concurrency_limit,
            transcripts=_flag(label("transcripts"), value("transcripts")),
            outcome_map=(relative_to / Path(outcome_map).expanduser()).resolve() if outcome_map else None,
            tariff=(relative_to / Path(tariff).expanduser()).resolve() if tariff else None,
            names=names,
            api_key_var=api_key_var,
            contact_hash_key_var=contact_hash_key_var,
            label=label,
        )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix without slashes at either end) of ``s3://bucket/prefix``; ``ValueError``
    saying what is wrong otherwise."""
    parts = urlsplit(uri)
    if parts.scheme != "s3":
        raise ValueError(f"{uri!r} is not an s3:// URI")
    if parts.query or parts.fragment:
        raise ValueError(f"{uri!r} must not carry a query or fragment")
    bucket = parts.netloc
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"{bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)")
    return bucket, parts.path.strip("/")


# Wildcards of DuckDB's file globs.
_GLOB_CHARACTERS = frozenset("*?[")


def _data_dir(label: str, raw: str, relative_to: Path) -> Path | str:
    """The data directory setting (named ``label``) as an absolute local path (a relative one from
    ``relative_to``), or as ``s3://bucket/prefix`` when it names a bucket; any other scheme is
    refused rather than becoming a local folder named after it."""
    scheme = urlsplit(raw).scheme
    wildcards = sorted({c for c in raw.removeprefix("s3://").split("?", 1)[0] if c in _GLOB_CHARACTERS})
    if wildcards:
        # DuckDB reads the stored partitions through globs under this root: a wildcard in the
        # root itself would match other folders' files (or none).
        raise SettingsError(
            f"{label}={raw!r} contains {', '.join(map(repr, wildcards))}, which DuckDB reads as a "
            "wildcard; choose a folder or prefix without *, ? or ["
        )
    if scheme == "s3":
        try:
            bucket, prefix = parse_s3_uri(raw)
        except ValueError as exc:
            raise SettingsError(f"{label}={raw!r}: {exc}") from None
        # Whether the bucket exists and the credentials can use it is checked when a run starts,
        # before its first API request: that is where the credentials of the run are.
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    if "://" in raw or (scheme and len(scheme) > 1):
        raise SettingsError(
            f"{label}={raw!r} uses the scheme {scheme!r}; give a local directory or s3://bucket/prefix "
            "(any S3-compatible store, its endpoint from AWS_ENDPOINT_URL)"
        )
    data_dir = Path(raw).expanduser()
    if not data_dir.is_absolute():
        data_dir = relative_to / data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise SettingsError(f"{label}={raw!r} exists and is not a directory")
    # A file on the way to the directory means it can never be created. Permissions are left
    # to the run (DigaStorage.check_writable): they belong to whoever runs the step, which in
    # a deployment is not always the process that loads the code location.
    blocker = next((parent for parent in data_dir.parents if parent.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise SettingsError(f"{label}={raw!r} cannot be created: {str(blocker)!r} is a file")
    return data_dir


def _whole_number(label: str, raw: str | None, rule: WholeNumberRule) -> int:
    """The setting ``label`` as an int within the rule's bounds (its default when unset), or a
    ``SettingsError`` naming it."""
    raw = raw or str(rule.default)
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not rule.low <= value <= rule.high:
        raise SettingsError(f"{label}={raw!r} must be a whole number from {rule.low} to {rule.high}")
    return value


_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false", ""})


def _flag(label: str, raw: str | None) -> bool:
    """The setting ``label`` as an on/off switch (1/true or 0/false, off when unset), or a
    ``SettingsError`` naming it: a typo such as ``yes`` must not quietly mean off."""
    value = (raw or "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise SettingsError(f"{label}={raw!r} must be 1, 0, true or false")
    return value in _TRUE

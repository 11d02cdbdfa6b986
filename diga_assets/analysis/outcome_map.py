"""The call outcome map: which outcome each (status, end_reason) of a call stands for.

A CSV with the header ``status,end_reason,outcome``, shipped in the package (``outcomes.csv``
beside this module) and replaceable by the user's own (``DIGA_OUTCOME_MAP``, or the
component's ``outcome_map``). The calls
view joins it (``sql/create_call_outcome_map_view.sql``), so every metric and every query reads
the outcome from the same map.
"""

from __future__ import annotations

from pathlib import Path

from diga_assets.analysis.settings_csv import settings_csv_rows
from diga_assets.settings import Settings

DEFAULT_OUTCOME_MAP = Path(__file__).resolve().parent / "outcomes.csv"
OUTCOME_MAP_HEADER = ("status", "end_reason", "outcome")
# Every outcome a call can get. The metrics count each; the first five are terminal.
OUTCOMES = ("completed", "failed", "no_answer", "transferred", "voicemail", "unfinished", "other")


class OutcomeMapError(ValueError):
    """The outcome map CSV cannot be used; the message names its source and line."""


def load_outcome_map(path: Path, *, source: str | None = None) -> dict[tuple[str, str | None], str]:
    """Read and validate an outcome map: ``(status, end_reason or None) -> outcome``.

    The file is CSV with the header ``status,end_reason,outcome``. An empty ``end_reason`` makes
    the row the status's default; a row naming one wins over it for that ``end_reason``. Each
    ``outcome`` must be one of ``OUTCOMES``. Raises ``OutcomeMapError`` naming ``source`` (the
    variable and the file) and the line.
    """
    source = source or str(path)
    mapping: dict[tuple[str, str | None], str] = {}
    first_line: dict[tuple[str, str | None], int] = {}
    for line, row in settings_csv_rows(path, OUTCOME_MAP_HEADER, source=source, error=OutcomeMapError):
        status, end_reason, outcome = row
        for name, value in zip(OUTCOME_MAP_HEADER, row, strict=True):
            if value != value.strip():
                raise OutcomeMapError(f"{source} line {line}: {name} {value!r} has leading or trailing spaces")
        if not status:
            raise OutcomeMapError(f"{source} line {line}: status is empty")
        if outcome not in OUTCOMES:
            raise OutcomeMapError(f"{source} line {line}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        key = (status, end_reason or None)
        if key in mapping:
            raise OutcomeMapError(
                f"{source} line {line}: status {status!r} with end_reason {end_reason!r} is already mapped "
                f"on line {first_line[key]}"
            )
        mapping[key] = outcome
        first_line[key] = line
    return mapping


def resolve_outcome_map(settings: Settings) -> Path:
    """The outcome map the settings name (the package's when they name none), validated: raises
    ``OutcomeMapError`` naming the setting (``DIGA_OUTCOME_MAP``, or the component's attribute)."""
    path = settings.outcome_map or DEFAULT_OUTCOME_MAP
    source = f"{settings.label('outcome_map')}={path}" if settings.outcome_map else f"outcome map {path}"
    load_outcome_map(path, source=source)
    return path


# Words in an end-reason code that suggest its outcome, checked in order. Only a suggestion for
# the line a user adds to the map: the codes beyond the documented five are not published.
_SUGGESTIONS = (
    ("transfer", "transferred"),
    ("voicemail", "voicemail"),
    ("machine", "voicemail"),
    ("no_answer", "no_answer"),
    ("unavailable", "no_answer"),
    ("busy", "no_answer"),
    ("error", "failed"),
    ("fail", "failed"),
    ("unreachable", "failed"),
    ("hangup", "completed"),
    ("hung_up", "completed"),
    ("complete", "completed"),
)


def suggested_outcome(end_reason: str) -> str | None:
    """The outcome an end-reason code's words suggest, or ``None`` when they suggest none."""
    code = end_reason.lower()
    return next((outcome for word, outcome in _SUGGESTIONS if word in code), None)


def map_line(status: str, end_reason: str) -> str:
    """The CSV line that maps ``(status, end_reason)``, with the outcome its code suggests (or a
    placeholder naming the choices when it suggests none)."""
    outcome = suggested_outcome(end_reason) or "|".join(OUTCOMES[:5])
    return f"{status},{end_reason},{outcome}"

"""The user's tariff: what a call costs, for ``call_kpis``'s billed minutes and cost.

Diga's API says nothing of prices (``LIVE-API.md``), so the user supplies them: a CSV named by
``DIGA_TARIFF`` (or the component's ``tariff``) with the header
``call_type,price_per_minute,price_per_call,currency,rounding`` and one row per call type
(``inbound``, ``outbound``). ``rounding`` is how a call's duration is billed: ``second`` (its
seconds as they are) or ``minute`` (each started minute whole). Prices are decimals, kept as
such to the cost. Without a tariff the cost columns are NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa

from diga_assets.analysis.settings_csv import settings_csv_rows
from diga_assets.settings import Settings

TARIFF_HEADER = ("call_type", "price_per_minute", "price_per_call", "currency", "rounding")
ROUNDINGS = ("second", "minute")
# Prices and costs as DECIMAL(18, 6): exact to a millionth of a currency unit.
PRICE_TYPE = pa.decimal128(18, 6)
_CURRENCY = re.compile(r"[A-Z]{3}")
TARIFF_SCHEMA = pa.schema(
    [
        ("call_type", pa.string()),
        ("price_per_minute", PRICE_TYPE),
        ("price_per_call", PRICE_TYPE),
        ("currency", pa.string()),
        ("rounding", pa.string()),
    ]
)


class TariffError(ValueError):
    """The tariff CSV cannot be used; the message names its setting, file and line."""


@dataclass(frozen=True)
class Tariff:
    """One price per call type, in one currency."""

    rows: tuple[dict[str, object], ...]

    def table(self) -> pa.Table:
        """The tariff as the ``tariff`` table the call_kpis statement joins."""
        return pa.Table.from_pylist(list(self.rows), schema=TARIFF_SCHEMA)


# Built from no batches: ``Schema.empty_table()`` imports pandas and numpy, which every process
# loading the definitions (a code server, a dg command) would then pay for at start-up.
NO_TARIFF_TABLE = pa.Table.from_batches([], schema=TARIFF_SCHEMA)


def load_tariff(path: Path, *, source: str) -> Tariff:
    """Read and validate a tariff CSV; ``TariffError`` naming ``source`` (the setting and the
    file) and the line otherwise."""
    rows: list[dict[str, object]] = []
    lines: dict[str, int] = {}
    for line, row in settings_csv_rows(path, TARIFF_HEADER, source=source, error=TariffError):
        call_type, per_minute, per_call, currency, rounding = (value.strip() for value in row)
        if not call_type:
            raise TariffError(f"{source} line {line}: call_type is empty")
        if call_type in lines:
            raise TariffError(
                f"{source} line {line}: call_type {call_type!r} already has a price on line {lines[call_type]}"
            )
        if not _CURRENCY.fullmatch(currency):
            raise TariffError(f"{source} line {line}: currency {currency!r} is not a three-letter code such as EUR")
        if rounding not in ROUNDINGS:
            raise TariffError(f"{source} line {line}: rounding {rounding!r} is not one of {', '.join(ROUNDINGS)}")
        rows.append(
            {
                "call_type": call_type,
                "price_per_minute": _price(source, line, "price_per_minute", per_minute),
                "price_per_call": _price(source, line, "price_per_call", per_call),
                "currency": currency,
                "rounding": rounding,
            }
        )
        lines[call_type] = line
    if not rows:
        raise TariffError(f"{source}: names no call type; add a line per call type (inbound, outbound)")
    currencies = sorted({str(row["currency"]) for row in rows})
    if len(currencies) > 1:
        raise TariffError(f"{source}: one currency per tariff, found {', '.join(currencies)}")
    return Tariff(tuple(rows))


def _price(source: str, line: int, field: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value != round(value, 6) or value >= Decimal(10) ** 12:
        raise TariffError(
            f"{source} line {line}: {field} {text!r} is not a price: a number from 0, with at most 6 decimals"
        )
    return value


def resolve_tariff(settings: Settings) -> Tariff | None:
    """The tariff the settings name, validated (``TariffError`` naming the setting), or None."""
    if settings.tariff is None:
        return None
    return load_tariff(settings.tariff, source=f"{settings.label('tariff')}={settings.tariff}")

"""The suppression list: callers who asked to be erased, kept so no later fetch stores them again.

It lives in the data dir (``privacy/suppressed_contacts/part-0.parquet``) and holds keyed hashes
only: ``HMAC-SHA256(DIGA_CONTACT_HASH_KEY, value)`` of each erased ``contact_identifier`` (the
caller's number or web id) and ``contact_id``, never the values. Without the key the list says
nothing about who is on it; with it, a fetched call is dropped when the hash of either of its
contact fields is listed. Stored calls are matched whether their ``contact_identifier`` holds the
number or, pseudonymized, the same HMAC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.privacy import CONTACT_COLUMN, contact_hash
from diga_assets.storage.layout import DataLayout
from diga_assets.storage.store import Store

CONTACT_ID_COLUMN = "contact_id"
SUPPRESSION_SCHEMA = pa.schema(
    [
        pa.field("field", pa.string(), nullable=False),  # contact_identifier or contact_id
        pa.field("hmac", pa.string(), nullable=False),
        pa.field("added_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class SuppressionList:
    """The HMACs of the erased callers' ``contact_identifier`` and ``contact_id`` values."""

    identifier_hashes: frozenset[str] = frozenset()
    id_hashes: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.identifier_hashes) + len(self.id_hashes)

    @classmethod
    def from_table(cls, table: pa.Table | None) -> SuppressionList:
        """The list a stored table holds (None: no list yet)."""
        if table is None:
            return cls()
        rows = table.select(["field", "hmac"]).to_pylist()
        return cls(
            frozenset(row["hmac"] for row in rows if row["field"] == CONTACT_COLUMN),
            frozenset(row["hmac"] for row in rows if row["field"] == CONTACT_ID_COLUMN),
        )

    def keep_mask(self, table: pa.Table | pa.RecordBatch, key: str) -> pa.Array:
        """True for each call of ``table`` whose caller is not on the list. A stored
        ``contact_identifier`` matches as the number (hashed here) or as its HMAC already."""
        keep = pa.array([True] * table.num_rows, pa.bool_())
        for column, hashes in ((CONTACT_COLUMN, self.identifier_hashes), (CONTACT_ID_COLUMN, self.id_hashes)):
            if not hashes or column not in table.schema.names:
                continue
            encoded = table.column(column).dictionary_encode()
            if isinstance(encoded, pa.ChunkedArray):
                encoded = encoded.combine_chunks()
            listed = pa.array(
                [
                    value is not None and (value in hashes or contact_hash(value, key) in hashes)
                    for value in encoded.dictionary.to_pylist()
                ],
                pa.bool_(),
            )
            hit = pc.fill_null(pc.take(listed, encoded.indices), False)
            keep = pc.and_(keep, pc.invert(hit))
        return keep


@dataclass(frozen=True)
class ErasedCallers:
    """The callers one erasure removes, as it knows them: their values, and the HMACs a
    pseudonymized ``contact_identifier`` holds. Matching stored days needs no hashing of every
    stored value (a year of days holds millions), only a set lookup."""

    identifiers: frozenset[str]
    contact_ids: frozenset[str]

    @classmethod
    def of(cls, key: str, identifiers: Iterable[str], contact_ids: Iterable[str]) -> ErasedCallers:
        """The values given, each identifier also as its HMAC under ``key``."""
        values = set(identifiers)
        return cls(frozenset(values | {contact_hash(value, key) for value in values}), frozenset(contact_ids))

    def keep_mask(self, table: pa.Table) -> pa.Array:
        """True for each call of ``table`` that is not one of theirs."""
        hit = pa.array([False] * table.num_rows, pa.bool_())
        for column, values in ((CONTACT_COLUMN, self.identifiers), (CONTACT_ID_COLUMN, self.contact_ids)):
            if values and column in table.schema.names:
                listed = pa.array(sorted(values), pa.string())
                hit = pc.or_(hit, pc.fill_null(pc.is_in(table[column], value_set=listed), False))
        return pc.invert(hit)


def suppression_location(store: Store) -> str:
    """Where the list is stored under the root."""
    return DataLayout(store.root).suppression_file()


def load_suppression(store: Store) -> SuppressionList:
    """The stored list (empty when nobody was erased)."""
    location = suppression_location(store)
    return SuppressionList.from_table(store.read_table(location) if store.exists(location) else None)


def add_to_suppression(
    store: Store, key: str, *, identifiers: Iterable[str] = (), contact_ids: Iterable[str] = ()
) -> SuppressionList:
    """Add callers to the list (as HMACs under ``key``), atomically beside any concurrent
    addition; returns the list as stored afterwards."""
    now = datetime.now(UTC)
    fresh = pa.Table.from_pylist(
        [{"field": CONTACT_COLUMN, "hmac": contact_hash(value, key), "added_at": now} for value in identifiers]
        + [{"field": CONTACT_ID_COLUMN, "hmac": contact_hash(value, key), "added_at": now} for value in contact_ids],
        schema=SUPPRESSION_SCHEMA,
    )

    def merged(stored: pa.Table | None) -> pa.Table:
        if stored is None:
            return fresh
        known = set(zip(stored["field"].to_pylist(), stored["hmac"].to_pylist(), strict=True))
        new = [row for row in fresh.to_pylist() if (row["field"], row["hmac"]) not in known]
        return pa.concat_tables([stored.cast(SUPPRESSION_SCHEMA), pa.Table.from_pylist(new, schema=SUPPRESSION_SCHEMA)])

    return SuppressionList.from_table(store.swap_table(suppression_location(store), merged))


SUPPRESSED_DAYS_SCHEMA = pa.schema(
    [pa.field("day", pa.string(), nullable=False), pa.field("calls", pa.int64(), nullable=False)]
)


def suppressed_calls_by_day(store: Store) -> dict[str, int]:
    """How many calls of listed callers each stored day leaves out (the API still counts them),
    by day key: what the audit adds to a day's stored count."""
    location = DataLayout(store.root).suppressed_days_file()
    if not store.exists(location):
        return {}
    table = store.read_table(location)
    return dict(zip(table["day"].to_pylist(), table["calls"].to_pylist(), strict=True))


def record_suppressed_calls(store: Store, day: str, calls: int, *, replace: bool) -> None:
    """Note that ``day`` leaves out ``calls`` more calls of listed callers (an erasure), or exactly
    ``calls`` (``replace``: a fetch, which just dropped all of them)."""
    if not calls and not replace:
        return

    def updated(stored: pa.Table | None) -> pa.Table:
        counts = (
            {} if stored is None else dict(zip(stored["day"].to_pylist(), stored["calls"].to_pylist(), strict=True))
        )
        counts[day] = calls if replace else counts.get(day, 0) + calls
        rows = [{"day": key, "calls": value} for key, value in sorted(counts.items()) if value]
        return pa.Table.from_pylist(rows, schema=SUPPRESSED_DAYS_SCHEMA)

    store.swap_table(DataLayout(store.root).suppressed_days_file(), updated)

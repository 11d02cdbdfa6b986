"""Pseudonymized contacts: a keyed hash of each caller's identifier in place of the identifier.

With ``DIGA_PSEUDONYMIZE_CONTACTS=1`` the ``contact_identifier`` column of ``diga_calls`` holds
``HMAC-SHA256(DIGA_CONTACT_HASH_KEY, identifier)`` as 64 lowercase hex characters instead of the
caller's phone number (or web id). The hash is deterministic, so a repeat caller gets the same
value on every day and in every run and still joins and counts as one caller; without the key it
cannot be reversed by hashing every possible phone number, which a plain SHA-256 of a
12-digit number could. Changing the key changes every value: keep it as long as the data.

The key is read through ``dg.EnvVar`` like the API key, so it never appears in run config, the
UI, metadata or error messages; only the variable's name does.
"""

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.records import CALLS

PSEUDONYMIZE_VAR = "DIGA_PSEUDONYMIZE_CONTACTS"
HASH_KEY_VAR = "DIGA_CONTACT_HASH_KEY"
CONTACT_COLUMN = "contact_identifier"
# 32 characters: a hex-encoded 128-bit secret at the least (``secrets.token_hex(32)`` gives 64).
# A short key could be guessed, and with it every caller's number recovered by trying them all.
MIN_HASH_KEY_LENGTH = 32
PSEUDONYMIZED_DOC = (
    f"Pseudonymized ({PSEUDONYMIZE_VAR}=1): HMAC-SHA256 of the caller's identifier under {HASH_KEY_VAR}, "
    "as 64 hex characters; the same caller has the same value on every day."
)


def hash_key_problem(
    key: str | None, variable: str = HASH_KEY_VAR, needed_for: str = f"pseudonymizing contacts ({PSEUDONYMIZE_VAR}=1)"
) -> str | None:
    """Why ``key`` (the value of ``variable``) cannot be the HMAC key for ``needed_for``, naming
    the variable but never the value; ``None`` if it can."""
    if not key:
        return f"{variable} is not set; {needed_for} needs it (at least {MIN_HASH_KEY_LENGTH} characters)"
    if len(key) < MIN_HASH_KEY_LENGTH:
        return (
            f"{variable} is {len(key)} characters long; {needed_for} needs at least "
            f"{MIN_HASH_KEY_LENGTH} (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return None


def contact_hash(identifier: str, key: str) -> str:
    """HMAC-SHA256 of one identifier under ``key``, as lowercase hex."""
    return hmac.new(key.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def pseudonymize_contacts(batch: pa.RecordBatch, key: str) -> pa.RecordBatch:
    """``batch`` with ``contact_identifier`` replaced by its HMAC; NULLs stay NULL, the schema is unchanged.

    Each distinct identifier of the batch is hashed once (a page repeats its callers); pyarrow
    has no HMAC, so that part is Python's ``hmac``.
    """
    index = batch.schema.get_field_index(CONTACT_COLUMN)
    encoded = batch.column(index).dictionary_encode()
    hashed = pa.array([contact_hash(value, key) for value in encoded.dictionary.to_pylist()], type=pa.string())
    # take() maps each row's dictionary index to its hash; a NULL index (a NULL identifier) stays NULL.
    return batch.set_column(index, batch.schema.field(index), pc.take(hashed, encoded.indices))


def stored_calls_schema(*, pseudonymized: bool) -> pa.Schema:
    """The schema of the calls as stored (raw and curated), whose ``contact_identifier`` says
    whether it holds callers' numbers or their HMACs."""
    schema = CALLS.arrow_schema
    if not pseudonymized:
        return schema
    index = schema.get_field_index(CONTACT_COLUMN)
    return schema.set(index, schema.field(index).with_metadata({"doc": PSEUDONYMIZED_DOC}))

"""``DigaStorage``: the storage root as a Dagster resource, and what may be stored under it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
from pydantic import ConfigDict, Field, model_validator

from diga_assets.privacy import HASH_KEY_VAR, PSEUDONYMIZE_VAR, hash_key_problem, pseudonymize_contacts
from diga_assets.storage.files import TEMP_SUFFIX
from diga_assets.storage.layout import DataLayout


class DigaStorage(dg.ConfigurableResource):
    """The storage root (``DIGA_DATA_DIR``): where everything lives (``layout``) and what may be
    stored there (callers' numbers pseudonymized when configured)."""

    # Validation errors must not echo the configured values: one of them is the HMAC key.
    model_config = ConfigDict(hide_input_in_errors=True)

    data_dir: str = Field(description="Root folder for Parquet files, the DuckDB file and reports.")
    pseudonymize_contacts: bool = Field(
        default=False,
        description=f"Store an HMAC of each caller's contact_identifier instead of the value (env {PSEUDONYMIZE_VAR}).",
    )
    contact_hash_key: str | None = Field(
        default=None,
        repr=False,
        description=f"Secret key of that HMAC. Set it with the {HASH_KEY_VAR} environment variable.",
    )

    @model_validator(mode="before")
    @classmethod
    def _hash_key_when_pseudonymizing(cls, data: Any) -> Any:
        # Checked when the run starts its resources, so a run without a usable key fails before
        # it fetches anything. At load the field holds dg.EnvVar (the variable's name), which
        # Dagster resolves only then; Settings.from_env has checked the variable itself.
        if isinstance(data, dict) and data.get("pseudonymize_contacts") is True:
            key = data.get("contact_hash_key")
            if not isinstance(key, dg.EnvVar) and (problem := hash_key_problem(key)):
                raise ValueError(problem)
        return data

    @property
    def root(self) -> Path:
        """The storage root as an absolute path."""
        return Path(self.data_dir).expanduser().resolve()

    @property
    def layout(self) -> DataLayout:
        """Where each file lives under the root."""
        return DataLayout(self.root)

    def calls_to_store(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """A page of calls as it may be stored: ``contact_identifier`` pseudonymized when configured."""
        if not self.pseudonymize_contacts:
            return batch
        key = self.contact_hash_key
        if isinstance(key, dg.EnvVar):  # used outside a run, where Dagster has not resolved it
            key = key.get_value()
        if problem := hash_key_problem(key):
            raise ValueError(problem)
        assert key is not None
        return pseudonymize_contacts(batch, key)

    def check_writable(self) -> None:
        """Fail early, naming DIGA_DATA_DIR, when the root cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{uuid.uuid4().hex}{TEMP_SUFFIX}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise PermissionError(f"DIGA_DATA_DIR={str(self.root)!r} is not writable: {exc.strerror}") from None

"""``DigaStorage``: the storage root as a Dagster resource, and what may be stored under it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from diga_assets.privacy import HASH_KEY_VAR, PSEUDONYMIZE_VAR, hash_key_problem, pseudonymize_contacts
from diga_assets.storage import open_store
from diga_assets.storage.layout import DataLayout
from diga_assets.storage.store import Store
from diga_assets.storage.suppression import SuppressionList, load_suppression


class DigaStorage(dg.ConfigurableResource):
    """The storage root (``DIGA_DATA_DIR``): where everything lives (``layout``) and what may be
    stored there (callers' numbers pseudonymized when configured)."""

    # Validation errors must not echo the configured values: one of them is the HMAC key.
    model_config = ConfigDict(hide_input_in_errors=True)

    data_dir: str = Field(
        description="Where Parquet files and reports go: a local folder, or s3://bucket/prefix (env DIGA_DATA_DIR)."
    )
    pseudonymize_contacts: bool = Field(
        default=False,
        description=f"Store an HMAC of each caller's contact_identifier instead of the value (env {PSEUDONYMIZE_VAR}).",
    )
    contact_hash_key: str | None = Field(
        default=None,
        repr=False,
        description=f"Secret key of that HMAC. Set it with an environment variable ({HASH_KEY_VAR} by default).",
    )
    contact_hash_key_var: str = Field(
        default=HASH_KEY_VAR, description="The name of the variable the HMAC key is read from (named in errors)."
    )

    @model_validator(mode="before")
    @classmethod
    def _hash_key_when_pseudonymizing(cls, data: Any) -> Any:
        # Checked when the run starts its resources, so a run without a usable key fails before
        # it fetches anything. At load the field holds dg.EnvVar (the variable's name), which
        # Dagster resolves only then; Settings.from_env has checked the variable itself.
        if isinstance(data, dict) and data.get("pseudonymize_contacts") is True:
            key = data.get("contact_hash_key")
            variable = data.get("contact_hash_key_var", HASH_KEY_VAR)
            if not isinstance(key, dg.EnvVar) and (problem := hash_key_problem(key, variable)):
                raise ValueError(problem)
        return data

    _store: Store | None = PrivateAttr(default=None)

    @property
    def store(self) -> Store:
        """The root's I/O: a local directory, or a bucket for ``s3://`` (made once per resource)."""
        if self._store is None:
            self._store = open_store(self.data_dir)
        return self._store

    @property
    def root(self) -> str:
        """The storage root: an absolute path, or ``s3://bucket/prefix``."""
        return self.store.root

    @property
    def layout(self) -> DataLayout:
        """Where each file lives under the root."""
        return DataLayout(self.store.root)

    @property
    def analysis_db(self) -> Path:
        """The local file of the analysis database (views only) over this root."""
        return self.store.analysis_db

    def existing_raw_files(self, dataset: str, keys: Iterable[str]) -> list[str]:
        """The stored files of those partitions of a raw dataset; days never stored are skipped."""
        return self.store.existing(self.layout.raw_partition(dataset, key) for key in keys)

    def existing_curated_files(self, dataset: str, keys: Iterable[str]) -> list[str]:
        """The stored files of those days of a curated dataset; days never stored are skipped."""
        return self.store.existing(self.layout.curated_partition(dataset, key) for key in keys)

    def existing_metric_files(self, asset: str, keys: Iterable[str]) -> list[str]:
        """The stored files of those days of a daily metric; days never stored are skipped."""
        return self.store.existing(self.layout.metric_partition(asset, key) for key in keys)

    def hash_key(self) -> str | None:
        """The HMAC key: the resolved field when pseudonymizing, else the variable it names
        (erasure and the suppression list need it either way); None when unset."""
        key = self.contact_hash_key
        if isinstance(key, dg.EnvVar):  # used outside a run, where Dagster has not resolved it
            key = key.get_value()
        return key or os.environ.get(self.contact_hash_key_var) or None

    def suppression(self) -> tuple[SuppressionList, str | None]:
        """The erased callers (``storage/suppression.py``) and the key their calls are matched
        with; a ``ValueError`` naming the variable when callers are listed and the key is not set."""
        listed = load_suppression(self.store)
        key = self.hash_key()
        needed_for = f"dropping the calls of the {len(listed)} erased caller value(s) on the suppression list"
        if len(listed) and (problem := hash_key_problem(key, self.contact_hash_key_var, needed_for)):
            raise ValueError(problem)
        return listed, key

    def calls_to_store(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """A page of calls as it may be stored: ``contact_identifier`` pseudonymized when configured."""
        if not self.pseudonymize_contacts:
            return batch
        key = self.hash_key()
        if problem := hash_key_problem(key, self.contact_hash_key_var):
            raise ValueError(problem)
        assert key is not None
        return pseudonymize_contacts(batch, key)

    def check_writable(self) -> None:
        """Fail early, naming DIGA_DATA_DIR, when the root cannot be used (before any API request)."""
        self.store.check_writable()

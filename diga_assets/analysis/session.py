"""An analyst's session: a read-only DuckDB connection with every view, from the ``DIGA_*``
variables alone, whether the data is in a local directory or in a bucket.

``diga_assets.connect()`` and ``diga-assets query`` open it. The views file is a cache: when it is
missing or out of date (another machine ran the pipeline, the outcome map changed), it is
rebuilt from what the storage holds before the connection opens.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import duckdb

from diga_assets.analysis.outcome_map import resolve_outcome_map
from diga_assets.analysis.views import refresh_analysis_db
from diga_assets.settings import Settings
from diga_assets.storage import open_store

log = logging.getLogger(__name__)


def connect(env: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the analysis database of ``DIGA_DATA_DIR`` (local or
    ``s3://``), with every view and whatever filesystem the data needs registered on it.

    Reads the same ``DIGA_*`` variables as the code location (``DIGA_DATA_DIR``,
    ``DIGA_TIMEZONE``, ``DIGA_OUTCOME_MAP``), and for a bucket the standard AWS chain; a bad
    setting raises an error naming the variable. Close the connection when done.
    """
    env = os.environ if env is None else env
    settings = Settings.from_env(env)
    store = open_store(str(settings.data_dir))
    # The refresh always writes the statistics macros, so the file exists afterwards even before
    # anything is stored.
    refresh_analysis_db(store, resolve_outcome_map(settings), log=log)
    return store.open_connection(str(store.analysis_db), read_only=True)

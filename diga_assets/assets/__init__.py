"""The assets, one package per layer: ``raw`` (the API as daily snapshots), ``metrics`` (DuckDB
over them) and ``report`` (an offline page of charts), with what they share in ``common``.

Modules that define assets or checks do not use ``from __future__ import annotations``: Dagster
reads the annotations of ``context`` and of resource parameters when the asset is defined, and a
string there is refused.
"""

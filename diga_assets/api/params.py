"""What a request is made of, checked before anything is sent: the base URL and the query parameters.

The base URL is refused when the bearer key could cross the network in clear. Query parameters
are checked against the endpoint's published parameters in the live OpenAPI document and spelled
as the API reads them; a bad one raises ``DigaRequestValidationError`` naming it.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from diga_assets.api import spec
from diga_assets.api.errors import DigaRequestValidationError

DEFAULT_BASE_URL = "https://api.diga.io"


def check_base_url(base_url: str) -> str:
    """Return ``base_url`` without a trailing slash, or raise ``ValueError`` if it is unusable.

    Plain ``http://`` is refused unless the host is loopback: the bearer key would cross the
    network in clear. The messages name no setting: the caller knows where the URL came from (an
    environment variable, a resource's field) and prefixes its own label.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL with a host, got {base_url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{base_url!r} uses plain http to a non-loopback host: the API key "
            "would travel in clear. Use https (plain http is allowed only for 127.0.0.1/localhost)."
        )
    if parts.query or parts.fragment:
        raise ValueError(f"must not carry a query or fragment, got {base_url!r}")
    return base_url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where plain http cannot leak the key)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def request_label(path: str, params: Mapping[str, str]) -> str:
    """``GET /v1/call/?after=...``: names the request in errors and logs (no secrets in it: the
    key travels in a header, and query strings hold only filters)."""
    return f"GET {path}" + (f"?{urlencode(params)}" if params else "")


def validate_params(path: str, params: Mapping[str, Any] | None) -> dict[str, str]:
    """Check ``params`` against the endpoint's published parameters and return them as strings.

    ``None`` values are dropped. Date-times may be aware ``datetime`` objects or RFC 3339
    strings with an offset; they are sent in UTC with a ``Z``. Raises
    ``DigaRequestValidationError`` naming the parameter, before anything is sent.
    """
    declared = spec.live().query_parameters(path)
    clean: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if name not in declared:
            raise DigaRequestValidationError(path, name, f"not a parameter of this endpoint; known: {sorted(declared)}")
        clean[name] = _format_param(path, declared[name], value)
    if "before" in clean and "after" in clean:
        raise DigaRequestValidationError(path, "before/after", "give 'before' or 'after', not both")
    if "page" in clean and ("before" in clean or "after" in clean):
        raise DigaRequestValidationError(path, "page", "page pagination cannot be mixed with a cursor")
    return clean


def _format_param(path: str, declared: spec.QueryParameter, value: Any) -> str:
    name = declared.name
    if declared.kind == "uuid":
        try:
            return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            raise DigaRequestValidationError(path, name, f"{value!r} is not a UUID") from None
    if declared.kind == "date-time":
        return format_datetime(value, path=path, parameter=name)
    if declared.kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise DigaRequestValidationError(path, name, f"{value!r} is not an integer")
        if declared.minimum is not None and value < declared.minimum:
            raise DigaRequestValidationError(path, name, f"{value} is below the minimum {declared.minimum}")
        if declared.maximum is not None and value > declared.maximum:
            raise DigaRequestValidationError(path, name, f"{value} is above the maximum {declared.maximum}")
        return str(value)
    if declared.kind == "enum":
        allowed = declared.choices or frozenset()
        if value not in allowed:
            raise DigaRequestValidationError(path, name, f"{value!r} is not one of {sorted(allowed)}")
        return str(value)
    return str(value)


def format_datetime(value: datetime | str, *, path: str = "", parameter: str = "") -> str:
    """Spell an instant as RFC 3339 in UTC with ``Z`` (no ``+`` to be mangled in a query string)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise DigaRequestValidationError(path, parameter, f"{value!r} is not an RFC 3339 date-time") from None
    if not isinstance(value, datetime):
        raise DigaRequestValidationError(path, parameter, f"{value!r} is not a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise DigaRequestValidationError(
            path, parameter, f"{value.isoformat()} has no UTC offset; give an aware date-time"
        )
    utc = value.astimezone(UTC)
    spelled = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return spelled.replace("+00:00", "Z")

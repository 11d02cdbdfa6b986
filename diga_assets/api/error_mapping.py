"""What an HTTP error answer means: the typed error (from :mod:`errors`) for a response, and
whether it is retried.

Messages name the request and what to fix. Every text that came from the server passes through
the caller's ``scrub`` first: nothing the client formats holds the key, but a proxy could echo
request headers into an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import requests

from diga_assets.api.errors import (
    DigaApiError,
    DigaAuthError,
    DigaInvalidRequestError,
    DigaRateLimitError,
    DigaServerError,
)
from diga_assets.api.retry import Failure, parse_retry_after

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# The resource a key needs Read permission on, as Diga's dashboard names it, by path prefix
# (a call's messages are part of Calls): keys are per project and limited per resource to
# No access / Read / Write.
_RESOURCE_OF_PREFIX = (("/v1/call/", "Calls"), ("/v1/phone/", "Phones"), ("/v1/agent/", "Agents"))


def failure_for(
    path: str, label: str, response: requests.Response, attempt: int, scrub: Callable[[str], str]
) -> Failure:
    """The ``Failure`` to retry for an error answer with a retryable status; any other raises its error."""
    error = error_for(path, label, response, attempt, scrub)
    if response.status_code not in RETRYABLE_STATUSES:
        raise error
    return Failure(
        error=type(error),
        summary=str(error),
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        api_error=error,
    )


def error_for(
    path: str, label: str, response: requests.Response, attempt: int, scrub: Callable[[str], str]
) -> DigaApiError:
    """The typed error for an error answer to the request ``label``, on its ``attempt``-th try."""
    status = response.status_code
    error_code, api_message = _decode_error_body(response)
    if error_code is not None:
        detail = f"{status} {error_code}: {scrub(api_message or '')}"
    else:
        detail = f"{status}, {scrub(api_message or '')}"
    kwargs: dict[str, Any] = {
        "path": path,
        "status": status,
        "error_code": error_code,
        "api_message": scrub(api_message) if api_message else api_message,
        "attempts": attempt,
    }
    if status == 401:
        return DigaAuthError(f"the API key was refused ({detail}) on {label}: check DIGA_API_KEY", **kwargs)
    if status == 403:
        resource = next((name for prefix, name in _RESOURCE_OF_PREFIX if path.startswith(prefix)), "its resource")
        # The spec documents 403 for a key without the permission; a wrong key may be answered
        # the same way, so the message covers both.
        return DigaAuthError(
            f"the API key was refused ({detail}) on {label}: the key in DIGA_API_KEY lacks Read permission "
            f"on {resource}, or is not a valid key. In Diga's dashboard, where the project's API keys are "
            f"managed, give the key Read access to {resource} (keys are per project, and limited per "
            "resource to No access / Read / Write)",
            **kwargs,
        )
    if status == 429:
        return DigaRateLimitError(f"rate limited ({detail}) on {label}", **kwargs)
    if status >= 500:
        return DigaServerError(f"server error ({detail}) on {label}", **kwargs)
    return DigaInvalidRequestError(f"request refused ({detail}) on {label}", **kwargs)


def _decode_error_body(response: requests.Response) -> tuple[str | None, str | None]:
    """Return (error_code, message) from the documented error JSON, or a description of the body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        message = body.get("message")
        return body["error_code"], message if isinstance(message, str) else None
    content_type = response.headers.get("Content-Type", "unknown content type").split(";")[0]
    text = " ".join(response.text.split())[:160]
    return None, f"body is not Diga's error JSON ({content_type}, {len(response.content)} bytes): {text!r}"

"""A small, strict client for the Diga API's read endpoints (calls, call transcripts, phones, agents).

One ``requests.Session`` (keep-alive, a connection pool as large as the concurrency asked for),
bearer auth, explicit (connect, read) timeouts, retries with exponential backoff and full jitter
that honour ``Retry-After``, typed errors, and one cursor walker that cannot loop forever.

The key is held by the session's headers only: it is never formatted into a log line, an
exception message or a ``repr``.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from diga_assets.api import spec
from diga_assets.api.errors import (
    DigaApiError,
    DigaAuthError,
    DigaCallNotFoundError,
    DigaConnectionError,
    DigaInvalidRequestError,
    DigaProtocolError,
    DigaRateLimitError,
    DigaRequestValidationError,
    DigaServerError,
)

DEFAULT_BASE_URL = "https://api.diga.io"

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# The resource a key needs Read permission on, as Diga's dashboard names it, by path prefix
# (a call's messages are part of Calls): keys are per project and limited per resource to
# No access / Read / Write.
_RESOURCE_OF_PREFIX = (("/v1/call/", "Calls"), ("/v1/phone/", "Phones"), ("/v1/agent/", "Agents"))

log = logging.getLogger(__name__)


def check_base_url(base_url: str) -> str:
    """Return ``base_url`` without a trailing slash, or raise ``ValueError`` if it is unusable.

    Plain ``http://`` is refused unless the host is loopback: the bearer key would cross the
    network in clear.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"DIGA_API_BASE_URL must be an http(s) URL with a host, got {base_url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"DIGA_API_BASE_URL {base_url!r} uses plain http to a non-loopback host: the API key "
            "would travel in clear. Use https (plain http is allowed only for 127.0.0.1/localhost)."
        )
    if parts.query or parts.fragment:
        raise ValueError(f"DIGA_API_BASE_URL must not carry a query or fragment, got {base_url!r}")
    return base_url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where plain http cannot leak the key)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up.

    ``max_attempts`` counts every request including the first; ``max_total_wait_s`` caps the
    sum of the pauses between attempts for one request (a ``Retry-After`` beyond what is left
    of it fails at once rather than sleeping in vain).
    """

    max_attempts: int = 6
    max_total_wait_s: float = 120.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.max_total_wait_s < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("retry waits must not be negative")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Full jitter: a uniform pause in [0, min(max, base * 2**(n-1))] before retry ``n``."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (retry_number - 1))
        return rng.uniform(0.0, ceiling)


@dataclass
class Page:
    """One decoded page of a listing, with what it cost to get it."""

    path: str
    params: dict[str, str]
    data: list[dict[str, Any]]
    has_more: bool
    first_id: str | None
    last_id: str | None
    current_page: int | None = None
    total_pages: int | None = None
    attempts: int = 1
    waited_s: float = 0.0

    @property
    def retries(self) -> int:
        """Requests sent for this page beyond the first."""
        return self.attempts - 1

    @property
    def request_label(self) -> str:
        """``GET /v1/call/?after=...``: names the request in errors and logs (no secrets in it)."""
        return f"GET {self.path}" + (f"?{urlencode(self.params)}" if self.params else "")


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


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class DigaClient:
    """Client for Diga's ``GET /v1/call/`` and ``GET /v1/phone/`` listings, a call's transcript
    (``GET /v1/call/{id}/message``) and the agents dropdown.

    Safe to share between threads for concurrent fetching: the session's connection pool holds
    ``max_concurrency`` keep-alive connections.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("the Diga API key is empty: set DIGA_API_KEY")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.base_url = check_base_url(base_url)
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._log = logger or log
        self._api_key = api_key
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max_concurrency, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "diga-assets/0.1 (+dagster)",
            }
        )

    def __repr__(self) -> str:
        return f"DigaClient(base_url={self.base_url!r}, max_concurrency={self.max_concurrency})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> DigaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- listings

    def get_page(self, path: str, params: Mapping[str, Any] | None = None) -> Page:
        """Fetch one page of a listing (cursor or ``page=`` pagination), with retries."""
        clean = validate_params(path, params)
        return self._fetch_page(path, clean)

    def iter_pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Walk every page of a listing with the cursor until ``has_more`` is false.

        With ``before`` the walk goes backwards (``before=first_id``); otherwise forwards
        (``after=last_id``). A page that claims more but does not move the cursor is a
        ``DigaProtocolError``: the walk never loops.
        """
        clean = validate_params(path, params)
        yield from self._walk(path, clean)

    def _walk(self, path: str, clean: dict[str, str]) -> Iterator[Page]:
        """``iter_pages`` from parameters already validated (against the endpoint's template when
        ``path`` holds an id, as a call's transcript does)."""
        if "page" in clean:
            raise DigaRequestValidationError(path, "page", "iter_pages walks the cursor; use get_page for page=N")
        direction: Literal["after", "before"] = "before" if "before" in clean else "after"
        seen_cursors: set[str] = {clean[direction]} if direction in clean else set()
        while True:
            page = self._fetch_page(path, clean)
            yield page
            if not page.has_more:
                return
            next_cursor = page.first_id if direction == "before" else page.last_id
            if not page.data or not next_cursor:
                raise DigaProtocolError(
                    f"{page.request_label} answered has_more=true with {len(page.data)} records and "
                    f"{'first_id' if direction == 'before' else 'last_id'}={next_cursor!r}: there is no "
                    "cursor to continue from",
                    path=path,
                    status=200,
                )
            if next_cursor in seen_cursors:
                raise DigaProtocolError(
                    f"{page.request_label} answered {direction} cursor {next_cursor!r} again: the cursor "
                    "does not advance, so following it would loop forever",
                    path=path,
                    status=200,
                )
            seen_cursors.add(next_cursor)
            clean = {**clean, direction: next_cursor}

    def iter_call_pages(
        self,
        *,
        start_created_date: datetime | str | None = None,
        end_created_date: datetime | str | None = None,
        agent_id: str | None = None,
        status: str | None = None,
        type: str | None = None,
        contact_id: str | None = None,
        phone_id: str | None = None,
        limit: int = 1000,
        order: Literal["asc", "desc"] = "asc",
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[Page]:
        """Walk ``GET /v1/call/``.

        Order defaults to ``asc``: with ascending order, ``after=last_id`` means "the next page"
        under every reading of the spec's cursor (next in list order, or created later), where
        with the API's default ``desc`` the two readings disagree.
        """
        return self.iter_pages(
            spec.CALLS_PATH,
            {
                "start_created_date": start_created_date,
                "end_created_date": end_created_date,
                "agent_id": agent_id,
                "status": status,
                "type": type,
                "contact_id": contact_id,
                "phone_id": phone_id,
                "limit": limit,
                "order": order,
                "after": after,
                "before": before,
            },
        )

    def iter_phone_pages(
        self,
        *,
        inbound_agent_id: str | None = None,
        outbound_agent_id: str | None = None,
        status: str | None = None,
        start_assigned_at: datetime | str | None = None,
        end_assigned_at: datetime | str | None = None,
        limit: int = 100,
        order: Literal["asc", "desc"] = "asc",
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[Page]:
        """Walk ``GET /v1/phone/`` (ascending for the same reason as ``iter_call_pages``)."""
        return self.iter_pages(
            spec.PHONES_PATH,
            {
                "inbound_agent_id": inbound_agent_id,
                "outbound_agent_id": outbound_agent_id,
                "status": status,
                "start_assigned_at": start_assigned_at,
                "end_assigned_at": end_assigned_at,
                "limit": limit,
                "order": order,
                "after": after,
                "before": before,
            },
        )

    def iter_call_message_pages(
        self,
        call_id: str | uuid.UUID,
        *,
        limit: int = 1000,
        order: Literal["asc", "desc"] = "asc",
        after: str | None = None,
        before: str | None = None,
    ) -> Iterator[Page]:
        """Walk ``GET /v1/call/{id}/message``: one call's transcript, oldest first by default
        (ascending for the same reason as ``iter_call_pages``), ``limit`` 1000 (the most allowed).

        A call without messages is answered 404 ``NO_MESSAGES_FOR_CALL``: that is an empty
        transcript, not a failure, and the walk yields one page with no records and
        ``has_more`` false (its ``attempts`` count the requests it took; ``waited_s`` is 0, the
        error does not carry the waits). 404 ``CALL_NOT_FOUND`` (the call was deleted, or never
        was) raises :class:`DigaCallNotFoundError` naming the call, so a caller can count it and
        go on. Every other error is raised as for any request, naming the request and never the
        key. Raises ``DigaRequestValidationError`` before sending anything when ``call_id`` is
        not a UUID or a parameter is outside the spec.
        """
        try:
            call = str(call_id if isinstance(call_id, uuid.UUID) else uuid.UUID(str(call_id)))
        except ValueError:
            # The API would answer 400 MISSING_ID; refused here, before anything is sent.
            raise DigaRequestValidationError(spec.MESSAGES_PATH, "id", f"{call_id!r} is not a UUID") from None
        path = spec.MESSAGES_PATH.replace("{id}", call)
        clean = validate_params(spec.MESSAGES_PATH, {"limit": limit, "order": order, "after": after, "before": before})
        walked = False
        try:
            for page in self._walk(path, clean):
                walked = True
                yield page
        except DigaInvalidRequestError as error:
            if error.status != 404:
                raise
            if error.error_code == "CALL_NOT_FOUND":
                raise DigaCallNotFoundError(
                    f"call {call} does not exist (deleted, or never in the key's project): {error}",
                    call_id=call,
                    path=path,
                    api_message=error.api_message,
                    attempts=error.attempts,
                ) from error
            if error.error_code != "NO_MESSAGES_FOR_CALL":
                raise
            if walked:
                # Pages were served, then the transcript was gone: what was read cannot be trusted whole.
                raise DigaProtocolError(
                    f"{error} after earlier pages of the same transcript: it vanished during the walk",
                    path=path,
                    status=404,
                    error_code=error.error_code,
                    api_message=error.api_message,
                    attempts=error.attempts,
                ) from error
            yield Page(
                path=path,
                params=clean,
                data=[],
                has_more=False,
                first_id=None,
                last_id=None,
                attempts=error.attempts,
            )

    def get_call_messages(self, call_id: str | uuid.UUID, *, limit: int = 1000) -> list[dict[str, Any]]:
        """One call's whole transcript, oldest first: its ``MessageResponse`` records as the API
        sent them, ``[]`` when the call has none (404 ``NO_MESSAGES_FOR_CALL``).

        Raises :class:`DigaCallNotFoundError` when the call does not exist (404
        ``CALL_NOT_FOUND``); see ``iter_call_message_pages`` for the rest.
        """
        return [message for page in self.iter_call_message_pages(call_id, limit=limit) for message in page.data]

    def get_agents(self) -> tuple[list[dict[str, Any]], int]:
        """``GET /v1/agent/versions-dropdown/dashboard``: every agent with its name and versions,
        unpaged; returns the records and the attempts it took."""
        path = spec.AGENTS_PATH
        body, attempts, _ = self._get_json(path, {})
        if not isinstance(body, list):
            raise DigaProtocolError(
                f"GET {path} answered 200 with {type(body).__name__}: expected the documented list of agents",
                path=path,
                status=200,
                attempts=attempts,
            )
        return body, attempts

    # ----------------------------------------------------------------- transport

    def _fetch_page(self, path: str, params: dict[str, str]) -> Page:
        body, attempts, waited = self._get_json(path, params)
        label = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise DigaProtocolError(
                f"{label} answered 200 without a 'data' list: not the documented page shape",
                path=path,
                status=200,
                attempts=attempts,
            )
        has_more = body.get("has_more")
        if not isinstance(has_more, bool):
            raise DigaProtocolError(
                f"{label} answered 200 with has_more={has_more!r}: expected true or false",
                path=path,
                status=200,
                attempts=attempts,
            )
        return Page(
            path=path,
            params=params,
            data=body["data"],
            has_more=has_more,
            first_id=body.get("first_id"),
            last_id=body.get("last_id"),
            current_page=body.get("current_page"),
            total_pages=body.get("total_pages"),
            attempts=attempts,
            waited_s=waited,
        )

    def _get_json(self, path: str, params: dict[str, str]) -> tuple[Any, int, float]:
        """GET with retries; return (decoded body, attempts, seconds waited between attempts)."""
        url = self.base_url + path
        label = f"GET {path}" + (f"?{urlencode(params)}" if params else "")
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            failure: _Failure
            try:
                response = self._session.get(url, params=params, timeout=self.timeout, stream=True)
                body = _read_body(response)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                # ChunkedEncodingError: the connection died mid-body (short read).
                failure = _Failure(
                    error=DigaConnectionError,
                    summary=f"{type(exc).__name__}: {self._scrub(_first_line(exc))}",
                    status=None,
                    retry_after=None,
                )
            else:
                if response.status_code < 300:
                    try:
                        return orjson.loads(body), attempt, waited
                    except orjson.JSONDecodeError as exc:
                        # A 200 whose body is cut short is a transport fault (a proxy or a dropped
                        # connection), so it is retried like one.
                        failure = _Failure(
                            error=DigaProtocolError,
                            summary=(
                                f"status {response.status_code} with a body that is not valid JSON "
                                f"({len(body)} bytes; {exc})"
                            ),
                            status=response.status_code,
                            retry_after=None,
                        )
                else:
                    error = self._error_for(path, label, response, attempt)
                    if response.status_code not in RETRYABLE_STATUSES:
                        raise error
                    failure = _Failure(
                        error=type(error),
                        summary=str(error),
                        status=response.status_code,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                        api_error=error,
                    )
            delay = self._next_delay(attempt, failure.retry_after)
            exhausted_reason = None
            if attempt >= self.retry.max_attempts:
                exhausted_reason = f"gave up after {attempt} attempts"
            elif waited + delay > self.retry.max_total_wait_s:
                exhausted_reason = (
                    f"gave up after {attempt} attempts: the next wait of {delay:.1f}s would pass the "
                    f"total wait cap of {self.retry.max_total_wait_s:.1f}s"
                )
            if exhausted_reason:
                raise failure.exhausted(path, label, attempt, exhausted_reason)
            # Pre-formatted: Dagster's log manager takes a message, not %-style arguments.
            self._log.warning(
                f"{label} failed ({failure.summary}); retry {attempt} of {self.retry.max_attempts - 1} in {delay:.2f}s"
            )
            self._sleep(delay)
            waited += delay

    def _next_delay(self, attempt: int, retry_after: float | None) -> float:
        jittered = self.retry.backoff(attempt, self._rng)
        return jittered if retry_after is None else max(retry_after, jittered)

    def _error_for(self, path: str, label: str, response: requests.Response, attempt: int) -> DigaApiError:
        status = response.status_code
        error_code, api_message = _decode_error_body(response)
        if error_code is not None:
            detail = f"{status} {error_code}: {self._scrub(api_message or '')}"
        else:
            detail = f"{status}, {self._scrub(api_message or '')}"
        kwargs: dict[str, Any] = {
            "path": path,
            "status": status,
            "error_code": error_code,
            "api_message": self._scrub(api_message) if api_message else api_message,
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

    def _scrub(self, text: str) -> str:
        # Defence in depth: nothing the client formats should ever hold the key, but a proxy
        # could echo request headers into an error page.
        return text.replace(self._api_key, "***") if self._api_key else text


@dataclass
class _Failure:
    """One failed attempt, kept until we know whether to retry or give up."""

    error: type[DigaApiError]
    summary: str
    status: int | None
    retry_after: float | None
    api_error: DigaApiError | None = field(default=None)

    def exhausted(self, path: str, label: str, attempts: int, reason: str) -> DigaApiError:
        if self.api_error is not None:
            e = self.api_error
            return self.error(
                f"{e} ({reason})",
                path=path,
                status=e.status,
                error_code=e.error_code,
                api_message=e.api_message,
                attempts=attempts,
            )
        return self.error(f"{label}: {self.summary} ({reason})", path=path, status=self.status, attempts=attempts)


def _read_body(response: requests.Response) -> bytes:
    """The whole body, read as one piece (``response`` must come from a ``stream=True`` request).

    ``response.content`` reads in small chunks, each through urllib3's read path, which costs a
    large page noticeably more CPU than one read (BENCHMARKS.md), and the read sits on the cursor
    walk's critical path. Error bodies are small and go through ``.content``, so
    ``response.text`` stays usable for the error message. A connection that breaks mid-body
    raises the same requests exceptions either way, and the connection goes back to the pool
    once the body is read.
    """
    if response.status_code >= 300:
        return response.content
    return b"".join(response.iter_content(chunk_size=None))


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


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

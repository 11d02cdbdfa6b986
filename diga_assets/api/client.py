"""A small, strict client for the Diga API's read endpoints (calls, call transcripts, phones, agents).

This module holds the endpoints; its parts live beside it, as dlt's ``rest_client`` is split:
:mod:`params` (parameter and base-URL checks, before anything is sent), :mod:`transport` (one
pooled keep-alive session with bearer auth and explicit (connect, read) timeouts), :mod:`retry`
(exponential backoff with full jitter that honours ``Retry-After``), :mod:`errors` and
:mod:`error_mapping` (typed errors), and :mod:`pagination` (one cursor walker that cannot loop
forever).

The key is held by the session's headers only: it is never formatted into a log line, an
exception message or a ``repr``.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from diga_assets.api import spec
from diga_assets.api.errors import DigaProtocolError, DigaRequestValidationError
from diga_assets.api.pagination import Page, walk_cursor, walk_transcript
from diga_assets.api.params import DEFAULT_BASE_URL, check_base_url, is_loopback_host, validate_params
from diga_assets.api.retry import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S, RetryPolicy
from diga_assets.api.transport import Transport

# Re-exported for the code outside ``diga_assets.api`` that imports them from here.
__all__ = ["DEFAULT_BASE_URL", "DigaClient", "Page", "RetryPolicy", "check_base_url", "is_loopback_host"]

log = logging.getLogger(__name__)


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
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
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
        self._transport = Transport(
            api_key,
            self.base_url,
            timeout=self.timeout,
            retry=self.retry,
            max_concurrency=max_concurrency,
            sleep=sleep,
            rng=rng or random.Random(),
            log=logger or log,
        )

    def __repr__(self) -> str:
        return f"DigaClient(base_url={self.base_url!r}, max_concurrency={self.max_concurrency})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

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
        yield from walk_cursor(self._fetch_page, path, clean)

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

    def count_calls(self, *, start_created_date: datetime | str, end_created_date: datetime | str) -> int | None:
        """How many calls were created between the two instants, in one request: ``page=1`` with
        ``limit=1`` is answered with ``total_pages``, one call per page. Returns 0 when the page
        is empty, and None when the API does not count (``total_pages`` null or not a positive
        integer while a call was served): the caller then lists the ids instead."""
        page = self.get_page(
            spec.CALLS_PATH,
            {
                "start_created_date": start_created_date,
                "end_created_date": end_created_date,
                "page": 1,
                "limit": 1,
            },
        )
        if not page.data:
            return 0
        total = page.total_pages
        if isinstance(total, int) and not isinstance(total, bool) and total >= 1:
            return total
        return None

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
        yield from walk_transcript(self._fetch_page, call, path, clean)

    def get_agents(self) -> tuple[list[dict[str, Any]], int]:
        """``GET /v1/agent/versions-dropdown/dashboard``: every agent with its name and versions,
        unpaged; returns the records and the attempts it took."""
        path = spec.AGENTS_PATH
        body, attempts, _ = self._transport.get_json(path, {})
        if not isinstance(body, list):
            raise DigaProtocolError(
                f"GET {path} answered 200 with {type(body).__name__}: expected the documented list of agents",
                path=path,
                status=200,
                attempts=attempts,
            )
        return body, attempts

    def _fetch_page(self, path: str, params: dict[str, str]) -> Page:
        body, attempts, waited = self._transport.get_json(path, params)
        return Page.from_body(path, params, body, attempts, waited)

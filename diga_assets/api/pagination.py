"""Pages of a listing, and the one cursor walk over them (a call's transcript is walked by it too).

A page is checked against the documented shape before it is trusted, and the walk refuses a
page that claims more without a cursor that moves: it never loops forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from diga_assets.api.errors import (
    DigaCallNotFoundError,
    DigaInvalidRequestError,
    DigaProtocolError,
    DigaRequestValidationError,
)
from diga_assets.api.params import request_label


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
        return request_label(self.path, self.params)

    @classmethod
    def from_body(cls, path: str, params: dict[str, str], body: Any, attempts: int, waited_s: float) -> Page:
        """The page a 200 answered with ``body`` (decoded JSON); ``DigaProtocolError`` if it is not
        the documented page shape."""
        label = request_label(path, params)
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
        return cls(
            path=path,
            params=params,
            data=body["data"],
            has_more=has_more,
            first_id=body.get("first_id"),
            last_id=body.get("last_id"),
            current_page=body.get("current_page"),
            total_pages=body.get("total_pages"),
            attempts=attempts,
            waited_s=waited_s,
        )


def walk_cursor(fetch: Callable[[str, dict[str, str]], Page], path: str, clean: dict[str, str]) -> Iterator[Page]:
    """Every page of ``path`` got with ``fetch``, following the cursor until ``has_more`` is false.

    ``clean`` holds parameters already validated (against the endpoint's template when ``path``
    holds an id, as a call's transcript does). With ``before`` the walk goes backwards
    (``before=first_id``); otherwise forwards (``after=last_id``). A page that claims more but
    does not move the cursor is a ``DigaProtocolError``: the walk never loops.
    """
    if "page" in clean:
        raise DigaRequestValidationError(path, "page", "iter_pages walks the cursor; use get_page for page=N")
    direction: Literal["after", "before"] = "before" if "before" in clean else "after"
    seen_cursors: set[str] = {clean[direction]} if direction in clean else set()
    while True:
        page = fetch(path, clean)
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


def walk_transcript(
    fetch: Callable[[str, dict[str, str]], Page], call: str, path: str, clean: dict[str, str]
) -> Iterator[Page]:
    """``walk_cursor`` over the transcript of ``call`` at ``path``, where a 404 has a meaning.

    404 ``NO_MESSAGES_FOR_CALL`` is an empty transcript: one page with no records and
    ``has_more`` false (its ``attempts`` count the requests it took; ``waited_s`` is 0, the error
    does not carry the waits). 404 ``CALL_NOT_FOUND`` raises :class:`DigaCallNotFoundError`
    naming the call. Every other error is raised as it came.
    """
    walked = False
    try:
        for page in walk_cursor(fetch, path, clean):
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

"""One GET against the API, with retries: the pooled session that carries the key, the
(connect, read) timeouts, reading the body, and each attempt turned into a decoded body or a
failure to retry (the loop and its caps are :mod:`retry`'s, the errors :mod:`error_mapping`'s).

The key is held by the session's headers only: it is never formatted into a log line, an
exception message or a ``repr``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from diga_assets.api.error_mapping import failure_for
from diga_assets.api.errors import DigaConnectionError, DigaProtocolError
from diga_assets.api.params import request_label
from diga_assets.api.retry import Failure, RetryPolicy, with_retries


class Transport:
    """GETs to one API root with one key over a keep-alive connection pool of ``max_concurrency``
    connections (safe to share between threads)."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeout: tuple[float, float],
        retry: RetryPolicy,
        max_concurrency: int,
        sleep: Callable[[float], None],
        rng: random.Random,
        log: logging.Logger,
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._rng = rng
        self._log = log
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
        return f"Transport(base_url={self._base_url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def get_json(self, path: str, params: dict[str, str]) -> tuple[Any, int, float]:
        """GET with retries; return (decoded body, attempts, seconds waited between attempts)."""
        url = self._base_url + path
        label = request_label(path, params)
        return with_retries(
            lambda attempt: self._attempt(url, path, label, params, attempt),
            path=path,
            label=label,
            policy=self._retry,
            sleep=self._sleep,
            rng=self._rng,
            log=self._log,
        )

    def _attempt(self, url: str, path: str, label: str, params: dict[str, str], attempt: int) -> Any:
        """Send the GET once: the decoded body, or the ``Failure`` to retry; an error that is never
        retried is raised."""
        try:
            response = self._session.get(url, params=params, timeout=self._timeout, stream=True)
            body = _read_body(response)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the connection died mid-body (short read).
            summary = f"{type(exc).__name__}: {self._scrub(_first_line(exc))}"
            return Failure(error=DigaConnectionError, summary=summary, status=None, retry_after=None)
        if response.status_code >= 300:
            return failure_for(path, label, response, attempt, self._scrub)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            # A 200 whose body is cut short is a transport fault (a proxy or a dropped
            # connection), so it is retried like one.
            return Failure(
                error=DigaProtocolError,
                summary=f"status {response.status_code} with a body that is not valid JSON ({len(body)} bytes; {exc})",
                status=response.status_code,
                retry_after=None,
            )

    def _scrub(self, text: str) -> str:
        # Defence in depth: nothing the client formats should ever hold the key, but a proxy
        # could echo request headers into an error page.
        return text.replace(self._api_key, "***") if self._api_key else text


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


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__

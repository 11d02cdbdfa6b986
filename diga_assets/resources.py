"""Dagster resources: the Diga API client, configured from typed fields.

The key comes in through ``dg.EnvVar("DIGA_API_KEY")``, so run config and the UI show the
variable's name, never its value.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import dagster as dg
from pydantic import Field, field_validator

from diga_assets.api.client import DEFAULT_BASE_URL, DigaClient, RetryPolicy, check_base_url

# The calls endpoint allows 1..1000 per page and phones 1..100: the largest page is the fewest
# round trips, and a 1000-call page is a few hundred KB, well within one response.
DEFAULT_CALLS_PAGE_SIZE = 1000
DEFAULT_PHONES_PAGE_SIZE = 100
# Days of a backfill fetched at once. 4 keeps a 50 ms-latency API busy enough to beat a
# sequential walk by ~3x on a 2-core machine without leaning hard on the API's rate limits.
DEFAULT_MAX_CONCURRENCY = 4
MAX_CONCURRENCY_LIMIT = 32


class DigaApiResource(dg.ConfigurableResource):
    """Connection to the Diga API (or the project's simulator): key, URL, timeouts, retries."""

    api_key: str = Field(description="Bearer key for the Diga API. Set it with the DIGA_API_KEY environment variable.")
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="API root. Plain http is accepted only for loopback hosts (the simulator).",
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Seconds to wait for a connection.")
    read_timeout_s: float = Field(default=60.0, gt=0, description="Seconds to wait for a response.")
    max_attempts: int = Field(default=6, ge=1, le=20, description="Attempts per request, the first included.")
    max_total_wait_s: float = Field(
        default=120.0,
        ge=0,
        description="Cap on the seconds spent waiting between the attempts of one request.",
    )
    backoff_base_s: float = Field(default=0.5, ge=0, description="First backoff ceiling; doubles per retry.")
    backoff_max_s: float = Field(default=30.0, ge=0, description="Largest backoff ceiling (full jitter below it).")
    calls_page_size: int = Field(
        default=DEFAULT_CALLS_PAGE_SIZE, ge=1, le=1000, description="Calls per page (the API allows 1..1000)."
    )
    phones_page_size: int = Field(
        default=DEFAULT_PHONES_PAGE_SIZE, ge=1, le=100, description="Phones per page (the API allows 1..100)."
    )
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY,
        ge=1,
        le=MAX_CONCURRENCY_LIMIT,
        description="Days fetched at once in a backfill (env DIGA_MAX_CONCURRENCY).",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_is_safe(cls, value: str) -> str:
        return check_base_url(value)

    def __repr__(self) -> str:
        return f"DigaApiResource(base_url={self.base_url!r}, max_concurrency={self.max_concurrency})"

    __str__ = __repr__

    def make_client(
        self,
        *,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
    ) -> DigaClient:
        """A new client; close it (or use it as a context manager) when done."""
        kwargs = {} if sleep is None else {"sleep": sleep}
        return DigaClient(
            self.api_key,
            self.base_url,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            retry=RetryPolicy(
                max_attempts=self.max_attempts,
                max_total_wait_s=self.max_total_wait_s,
                backoff_base_s=self.backoff_base_s,
                backoff_max_s=self.backoff_max_s,
            ),
            max_concurrency=self.max_concurrency,
            rng=rng,
            logger=logger,
            **kwargs,
        )

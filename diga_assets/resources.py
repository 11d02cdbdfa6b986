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

from diga_assets.api import retry, spec
from diga_assets.api.client import DEFAULT_BASE_URL, DigaClient, RetryPolicy, check_base_url
from diga_assets.settings import MAX_CONCURRENCY

# The page sizes the spec allows. The largest page is the fewest round trips, and the default.
_CALLS_LIMIT = spec.live().query_parameters(spec.CALLS_PATH)["limit"]
_PHONES_LIMIT = spec.live().query_parameters(spec.PHONES_PATH)["limit"]


class DigaApiResource(dg.ConfigurableResource):
    """Connection to the Diga API (or the project's simulator): key, URL, timeouts, retries."""

    api_key: str = Field(
        description="Bearer key for the Diga API. Set it with an environment variable (DIGA_API_KEY by default)."
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="API root. Plain http is accepted only for loopback hosts (the simulator).",
    )
    connect_timeout_s: float = Field(
        default=retry.DEFAULT_CONNECT_TIMEOUT_S, gt=0, description="Seconds to wait for a connection."
    )
    read_timeout_s: float = Field(
        default=retry.DEFAULT_READ_TIMEOUT_S, gt=0, description="Seconds to wait for a response."
    )
    max_attempts: int = Field(
        default=retry.DEFAULT_MAX_ATTEMPTS, ge=1, le=20, description="Attempts per request, the first included."
    )
    max_total_wait_s: float = Field(
        default=retry.DEFAULT_MAX_TOTAL_WAIT_S,
        ge=0,
        description="Cap on the seconds spent waiting between the attempts of one request.",
    )
    backoff_base_s: float = Field(
        default=retry.DEFAULT_BACKOFF_BASE_S, ge=0, description="First backoff ceiling; doubles per retry."
    )
    backoff_max_s: float = Field(
        default=retry.DEFAULT_BACKOFF_MAX_S, ge=0, description="Largest backoff ceiling (full jitter below it)."
    )
    calls_page_size: int = Field(
        default=_CALLS_LIMIT.maximum,
        ge=_CALLS_LIMIT.minimum,
        le=_CALLS_LIMIT.maximum,
        description=f"Calls per page (the API allows {_CALLS_LIMIT.minimum}..{_CALLS_LIMIT.maximum}).",
    )
    phones_page_size: int = Field(
        default=_PHONES_LIMIT.maximum,
        ge=_PHONES_LIMIT.minimum,
        le=_PHONES_LIMIT.maximum,
        description=f"Phones per page (the API allows {_PHONES_LIMIT.minimum}..{_PHONES_LIMIT.maximum}).",
    )
    max_concurrency: int = Field(
        default=MAX_CONCURRENCY.default,
        ge=MAX_CONCURRENCY.low,
        le=MAX_CONCURRENCY.high,
        description="Days fetched at once in a backfill (env DIGA_MAX_CONCURRENCY).",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_is_safe(cls, value: str) -> str:
        # The rule is the API layer's (it knows what may carry the key); checked here too so a
        # resource built in code or edited in the launchpad fails before the run starts.
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

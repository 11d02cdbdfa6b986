"""How hard to try before giving up: the retry policy, ``Retry-After``, and the attempt loop.

Retries use exponential backoff with full jitter and honour ``Retry-After``, within a cap on the
attempts and on the total wait. The defaults live here and only here: ``RetryPolicy`` and the
client take them, and so can a configuration layer (a Dagster resource's field defaults).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from diga_assets.api.errors import DigaApiError

# How long one attempt may take: seconds to connect, and seconds to wait for the response.
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 60.0

# How many attempts one request gets, and how long it may wait between them in all.
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_MAX_TOTAL_WAIT_S = 120.0
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up.

    ``max_attempts`` counts every request including the first; ``max_total_wait_s`` caps the
    sum of the pauses between attempts for one request (a ``Retry-After`` beyond what is left
    of it fails at once rather than sleeping in vain).
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_total_wait_s: float = DEFAULT_MAX_TOTAL_WAIT_S
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.max_total_wait_s < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("retry waits must not be negative")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Full jitter: a uniform pause in [0, min(max, base * 2**(n-1))] before retry ``n``."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (retry_number - 1))
        return rng.uniform(0.0, ceiling)

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """The pause before retry ``n``: the jittered backoff, or ``Retry-After`` when it asks for longer."""
        jittered = self.backoff(retry_number, rng)
        return jittered if retry_after is None else max(retry_after, jittered)


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


@dataclass
class Failure:
    """One failed attempt, kept until we know whether to retry or give up."""

    error: type[DigaApiError]
    summary: str
    status: int | None
    retry_after: float | None
    api_error: DigaApiError | None = field(default=None)

    def exhausted(self, path: str, label: str, attempts: int, reason: str) -> DigaApiError:
        """The error to raise when no attempt is left: the last one's, with why we gave up."""
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


def with_retries(
    attempt_once: Callable[[int], T | Failure],
    *,
    path: str,
    label: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random,
    log: logging.Logger,
) -> tuple[T, int, float]:
    """Call ``attempt_once(attempt)`` until it answers something other than a ``Failure``.

    Returns (answer, attempts, seconds waited between attempts). An error ``attempt_once`` raises
    is never retried; a failure past ``policy``'s caps raises its error naming ``label`` and why
    we gave up. Each retry is logged as a warning (naming the request, never the key).
    """
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        outcome = attempt_once(attempt)
        if not isinstance(outcome, Failure):
            return outcome, attempt, waited
        delay = policy.delay(attempt, outcome.retry_after, rng)
        exhausted_reason = None
        if attempt >= policy.max_attempts:
            exhausted_reason = f"gave up after {attempt} attempts"
        elif waited + delay > policy.max_total_wait_s:
            exhausted_reason = (
                f"gave up after {attempt} attempts: the next wait of {delay:.1f}s would pass the "
                f"total wait cap of {policy.max_total_wait_s:.1f}s"
            )
        if exhausted_reason:
            raise outcome.exhausted(path, label, attempt, exhausted_reason)
        log.warning(
            "%s failed (%s); retry %d of %d in %.2fs", label, outcome.summary, attempt, policy.max_attempts - 1, delay
        )
        sleep(delay)
        waited += delay

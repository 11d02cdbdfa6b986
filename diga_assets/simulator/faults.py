"""Fault injection for the simulated Diga API, off by default.

Clients are judged by what they do when the network or the API misbehaves, so the simulator can
answer 429 and 5xx, stall, drop connections, cut bodies short, serve pages whose cursors lie and
records whose fields have the wrong JSON type. Random faults come from a seeded generator, so a run
is reproducible for a given request order; scripted faults (``FaultConfig.script``) are applied
first, in order, for exact test scenarios.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Literal, get_args

FaultKind = Literal[
    "status",
    "drop",
    "drop_mid_body",
    "truncate",
    "slow",
    "stuck_cursor",
    "empty_has_more",
    "wrong_type",
    "no_total_pages",
]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

# Faults that replace the response before the API is consulted (a gateway or rate limiter
# answering in front of the service) versus faults that distort the real response.
PRE_RESPONSE_KINDS: frozenset[str] = frozenset({"status", "drop", "slow"})


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour.

    ``status`` faults answer ``status`` with a JSON error body (or an nginx-style HTML page when
    ``html``); ``retry_after`` is the Retry-After header: seconds as text, ``"http-date"`` for an
    HTTP-date ``retry_after_seconds`` ahead, ``""`` for no header, or None to use the config's
    default on 429. ``path`` restricts the fault to one endpoint path.

    The other kinds: ``drop`` closes the connection without an answer; ``drop_mid_body``
    promises the whole body in Content-Length, sends half and hangs up; ``truncate`` sends half
    the body with a Content-Length that matches it (a 200 that is not JSON); ``slow`` answers
    after ``delay_s``; ``stuck_cursor`` serves the real page with ``last_id`` set to the
    request's own ``after`` cursor; ``empty_has_more`` serves ``data: []`` with
    ``has_more: true``; ``wrong_type`` serves the real page with ``record_field`` (a dotted path
    such as ``contact.id``) of its first record replaced by ``wrong_value`` (by default the text
    ``"forty-six"`` where the spec says ``duration`` is an integer); an empty page is served
    untouched; that body breaks the contract on purpose, so a test that injects it starts its
    simulator without the contract check. ``no_total_pages`` serves the real page with
    ``current_page`` and ``total_pages`` null, as an API that does not count (both are nullable
    in the spec). The agents endpoint is not paged: ``stuck_cursor`` and
    ``empty_has_more`` leave its answer untouched, and ``wrong_type`` changes its first agent.
    """

    kind: FaultKind
    status: int | None = None
    retry_after: str | None = None
    retry_after_seconds: float = 1.0
    html: bool = False
    delay_s: float = 0.0
    path: str | None = None
    record_field: str = "duration"
    wrong_value: Any = "forty-six"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        if self.kind == "status" and (self.status is None or not 400 <= self.status <= 599):
            raise ValueError(f"a status fault needs a 4xx/5xx status, got {self.status!r}")
        if self.kind == "slow" and self.delay_s <= 0:
            raise ValueError("a slow fault needs delay_s > 0")
        if self.kind == "wrong_type" and not all(self.record_field.split(".")):
            raise ValueError(f"a wrong_type fault needs a field name or dotted path, got {self.record_field!r}")

    @property
    def label(self) -> str:
        """How the request log names the fault (e.g. ``status:429``, ``slow:2.0s``, ``wrong_type:duration``)."""
        if self.kind == "status":
            return f"status:{self.status}" + (":html" if self.html else "")
        if self.kind == "slow":
            return f"slow:{self.delay_s:g}s"
        if self.kind == "wrong_type":
            return f"wrong_type:{self.record_field}"
        return self.kind

    def retry_after_header(self, default: str | None, now_epoch: float) -> str | None:
        """The Retry-After header value to send, or None for no header."""
        value = self.retry_after if self.retry_after is not None else default
        if not value:
            return None
        if value == "http-date":
            return formatdate(now_epoch + self.retry_after_seconds, usegmt=True)
        return value


@dataclass
class FaultConfig:
    """Which faults to inject. Thread-safe: the server draws from it on every API request.

    ``latency_ms`` delays every API request. Random faults are drawn once per request with one
    uniform number: ``drop_rate``, then ``rate_429``, then ``rate_5xx`` (a code from
    ``codes_5xx``). ``retry_after`` is the default Retry-After of 429 answers (seconds as text, or
    ``"http-date"`` with ``retry_after_seconds``). A ``None`` in ``script`` lets one request through
    untouched (no random fault either), so a scenario can say "the second request fails".
    """

    seed: int = 0
    rate_429: float = 0.0
    retry_after: str = "1"
    retry_after_seconds: float = 1.0
    rate_5xx: float = 0.0
    codes_5xx: tuple[int, ...] = (500, 502, 503, 504)
    latency_ms: float = 0.0
    drop_rate: float = 0.0
    script: list[Fault | None] = field(default_factory=list)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for name in ("rate_429", "rate_5xx", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.rate_429 + self.rate_5xx + self.drop_rate > 1.0:
            raise ValueError("rate_429 + rate_5xx + drop_rate must not exceed 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.rate_5xx and not self.codes_5xx:
            raise ValueError("rate_5xx needs at least one code in codes_5xx")
        self.script = list(self.script)
        self._rng = random.Random(self.seed)

    def add(self, *faults: Fault | None) -> None:
        """Queue scripted faults behind the ones already waiting (safe while serving)."""
        with self._lock:
            self.script.extend(faults)

    def pending(self) -> list[Fault | None]:
        """The scripted faults not applied yet."""
        with self._lock:
            return list(self.script)

    def next_fault(self, path: str) -> tuple[Fault, str] | None:
        """The fault for the next request to ``path`` and its source (``script``/``random``)."""
        with self._lock:
            for index, fault in enumerate(self.script):
                if fault is None:
                    del self.script[index]
                    return None
                if fault.path is None or fault.path == path:
                    del self.script[index]
                    return fault, "script"
            if not (self.drop_rate or self.rate_429 or self.rate_5xx):
                return None
            draw = self._rng.random()
            if draw < self.drop_rate:
                return Fault("drop"), "random"
            draw -= self.drop_rate
            if draw < self.rate_429:
                return Fault("status", status=429), "random"
            draw -= self.rate_429
            if draw < self.rate_5xx:
                return Fault("status", status=self._rng.choice(self.codes_5xx)), "random"
            return None

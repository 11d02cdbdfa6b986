"""A real HTTP server that answers like the Diga API, on loopback only (in the spirit of stripe-mock).

Clients are tested against real sockets, real keep-alive and real partial reads, not against
mocked ``requests`` calls: the failure modes that matter (a dropped connection, a truncated body,
a lying cursor, a record whose field has the wrong type) only exist on the wire; every kind is
described in :mod:`diga_assets.simulator.faults`. Query parameters, limits, enums and error bodies
are read through :mod:`diga_assets.api.spec` from the document of the world's status model: the
published pages of ``/v1/call/`` and ``/v1/phone/`` for ``seed``, Diga's live OpenAPI document for
``current``. ``GET /v1/agent/versions-dropdown/dashboard`` is served in both models as the live
document describes it (no published page covers it). ``GET /v1/call/{id}/message`` (a call's
transcript) is served under ``current`` only: the seed model's pages have no such endpoint, so
there it is an unknown route (404 ``NOT_FOUND``), as any path the API does not have.

Access follows the documents: a missing or wrong key is answered 403 with the endpoint's
documented body, and so is a valid key that lacks Read permission on the endpoint's resource
(``denied_resources``), on that resource's endpoints only (a call's transcript belongs to the
calls resource).

A transcript request is answered in this order: 403 (key), 400 ``MISSING_ID`` (the id is not a
UUID), 400/422 (query parameters, as for ``/v1/call/``), 404 ``CALL_NOT_FOUND`` (no visible call
has the id), 404 ``NO_MESSAGES_FOR_CALL`` (the call has no message now), 400 ``NOT_VALID_FIELD``
(a cursor that names no message of the transcript), then the page. Faults are drawn for the
endpoint ``MESSAGES_PATH`` (``Fault(path=MESSAGES_PATH)`` targets every transcript), the request
log keeps the path as requested (with the call's id), and ``served_bodies`` files transcript
bodies under ``MESSAGES_PATH``, the key their contract is found by.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from diga_assets.api.client import is_loopback_host
from diga_assets.api.spec import (
    AGENTS_PATH,
    CALLS_PATH,
    MESSAGES_PATH,
    PHONES_PATH,
    OpenApiDocument,
    QueryParameter,
    live,
    seed_page,
)
from diga_assets.simulator.faults import Fault, FaultConfig
from diga_assets.simulator.instants import canonical_uuid
from diga_assets.simulator.world import (
    ListQuery,
    NoMessagesError,
    Page,
    StatusModel,
    UnknownCallError,
    UnknownCursorError,
    World,
)

logger = logging.getLogger(__name__)

LIST_PATHS: tuple[str, ...] = (CALLS_PATH, PHONES_PATH)
API_PATHS: tuple[str, ...] = (*LIST_PATHS, AGENTS_PATH)
# The resources a key can be denied Read permission on, and the endpoints of each.
RESOURCE_PATHS: Mapping[str, tuple[str, ...]] = {
    "calls": (CALLS_PATH, MESSAGES_PATH),
    "phones": (PHONES_PATH,),
    "agents": (AGENTS_PATH,),
}
# The live document's list of agents: the dropdown documents none of its errors, the agents
# resource's listing documents them (403, 500), so their bodies are taken from there.
_AGENTS_LIST_PATH = "/v1/agent/"
ADMIN_PREFIX = "/_simulator/"
PAGINATION_PARAMETERS = frozenset({"after", "before", "page", "limit", "order"})
# ``GET /v1/call/{id}/message`` as requested: any single path segment is taken for the id, so a
# malformed one is answered 400 MISSING_ID, as the live document says, rather than 404.
_MESSAGES_ROUTE = re.compile(r"^/v1/call/([^/]*)/message$")

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+\- ]\d{2}:\d{2})$")
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_STATUS_CODES = {
    400: "NOT_VALID_FIELD",
    403: "INTERNAL_SERVER_ERROR",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    422: "INVALID_PAGINATION_PARAMETERS",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_SERVER_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}  # fmt: skip


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. Headers are never kept: they carry the API key."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None
    connection: int
    at: float = 0.0  # time.monotonic() when the request arrived, to measure client back-off


class RequestLog:
    """A thread-safe, append-only log of requests; the server thread writes, tests read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Add one finished request."""
        with self._lock:
            self._records.append(record)

    def all(self) -> list[RequestRecord]:
        """A copy of every record so far, in the order the requests finished."""
        with self._lock:
            return list(self._records)

    def requests_to(self, path: str) -> list[RequestRecord]:
        """The records for one path (e.g. ``/v1/call/``)."""
        return [record for record in self.all() if record.path == path]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.all())

    def __eq__(self, other: object) -> bool:
        # Lets tests write ``assert sim.request_log == []``.
        if isinstance(other, RequestLog):
            return self.all() == other.all()
        if isinstance(other, list):
            return self.all() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, index: int) -> RequestRecord:
        with self._lock:
            return self._records[index]


class ApiError(Exception):
    """An error answer in the API's ``ErrorResponseSchema`` shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> bytes:
        """The JSON body the API sends for this error."""
        return orjson.dumps({"status": "error", "error_code": self.error_code, "message": self.message})


def parse_rfc3339_ns(text: str) -> int:
    """Integer nanoseconds since the epoch for an RFC 3339 date-time with an explicit offset.

    An unencoded ``+`` in a query string arrives as a space, so a space in the offset's sign
    position is read as ``+``. Nanoseconds keep 7-9 digit fractions exact at the bounds.
    """
    found = _RFC3339.match(text)
    if found is None:
        raise ValueError("not an RFC 3339 date-time with a UTC offset")
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    fraction = (found.group(7) or "").ljust(9, "0")
    offset_text = found.group(8)
    moment = datetime(year, month, day, hour, minute, second)  # validates the calendar
    offset_s = 0
    if offset_text not in ("Z", "z"):
        sign = -1 if offset_text[0] == "-" else 1
        off_h, off_m = int(offset_text[1:3]), int(offset_text[4:6])
        if off_h > 23 or off_m > 59:
            raise ValueError("offset out of range")
        offset_s = sign * (off_h * 3600 + off_m * 60)
    seconds = (moment - datetime(1970, 1, 1)) // timedelta(seconds=1) - offset_s
    return seconds * 1_000_000_000 + int(fraction)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: DigaSimulator, ipv6: bool) -> None:
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.simulator = simulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DigaSimulator/1.0"
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection_number = self.server.simulator._connection_opened(self.request)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.simulator._connection_closed(self.request)

    # The default access log prints the request line to stderr; keep only method, path, status.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        simulator = self.server.simulator
        self.arrived_at = time.monotonic()
        self._discard_request_body()
        split = urlsplit(self.path)
        path = split.path
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query = dict(pairs)
        try:
            if path.startswith(ADMIN_PREFIX):
                status, body = simulator._admin(self.command, path, query)
                simulator._log(self.command, path, query, status, None, self.connection_number, self.arrived_at)
                self._send(status, body, record_path=None)  # not part of the Diga API
            elif (endpoint := simulator._endpoint_of(path)) is not None:
                if simulator.live_clock:
                    simulator.world.advance_to(datetime.now(UTC))
                self._api(endpoint, path, pairs, query)
            else:
                error = ApiError(404, "NOT_FOUND", f"No route for {self.command} {path}")
                simulator._log(self.command, path, query, 404, None, self.connection_number, self.arrived_at)
                self._send(404, error.body(), record_path=path)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            logger.exception("simulator crashed on %s %s", self.command, path)
            simulator._log(self.command, path, query, 500, None, self.connection_number, self.arrived_at)
            endpoint = simulator._endpoint_of(path) or path
            self._send(500, simulator._internal_error_body(endpoint), record_path=endpoint)

    def _api(self, endpoint: str, path: str, pairs: list[tuple[str, str]], query: dict[str, str]) -> None:
        """Answer one API request; ``endpoint`` is the documented path (``/v1/call/{id}/message``)
        and ``path`` the one requested. Bodies are filed under ``endpoint``, requests under ``path``."""
        simulator = self.server.simulator
        if self.command != "GET":
            error = ApiError(405, "METHOD_NOT_ALLOWED", f"{self.command} is not allowed on {path}; use GET")
            simulator._log(self.command, path, query, 405, None, self.connection_number, self.arrived_at)
            self._send(405, error.body(), record_path=endpoint, headers=[("Allow", "GET")])
            return
        faults = simulator.faults
        picked = faults.next_fault(endpoint)
        fault = picked[0] if picked else None
        label = None
        if picked is not None:
            label = picked[0].label if picked[1] == "script" else f"random:{picked[0].label}"
        # Simulated network latency and slow upstreams. The answer is computed and logged first,
        # so a client that gives up early still finds its request in the log.
        delay = faults.latency_ms / 1000 + (fault.delay_s if fault is not None and fault.kind == "slow" else 0.0)

        def log(status: int | None) -> None:
            simulator._log("GET", path, query, status, label, self.connection_number, self.arrived_at)

        if fault is not None and fault.kind == "drop":
            log(None)
            if delay:
                time.sleep(delay)
            self.close_connection = True  # the server closes the socket without a response
            return
        if fault is not None and fault.kind == "status":
            assert fault.status is not None
            status, body, content_type, headers = simulator._fault_response(fault, endpoint)
            log(status)
            if delay:
                time.sleep(delay)
            self._send(status, body, content_type=content_type, headers=headers, record_path=endpoint)
            return

        authorization = self.headers.get("Authorization")
        if endpoint == AGENTS_PATH:
            status, body = simulator._agents(authorization, fault)
        elif endpoint == MESSAGES_PATH:
            status, body = simulator._messages(path, pairs, authorization, fault)
        else:
            status, body = simulator._list(path, pairs, authorization, fault)
        log(status)
        if delay:
            time.sleep(delay)
        if fault is not None and fault.kind == "truncate":
            cut = body[: max(1, len(body) // 2)]
            self._send(status, cut, record_path=None)
        elif fault is not None and fault.kind == "drop_mid_body":
            self._send(status, body, record_path=None, cut_after=len(body) // 2)
        else:
            self._send(status, body, record_path=endpoint)

    def _discard_request_body(self) -> None:
        # Unread body bytes would be parsed as the next request on a keep-alive connection.
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            remaining = int(length)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        record_path: str | None,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
        cut_after: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if record_path is not None and content_type == "application/json" and cut_after is None:
            self.server.simulator._served(record_path, status, body)
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut_after is not None:
            # Promise the whole body, deliver half of it, hang up.
            self.wfile.write(body[:cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class DigaSimulator:
    """Serve a :class:`World` over HTTP on loopback, with optional fault injection.

    Use it as a context manager (``with DigaSimulator(World()) as sim:``) or call ``start()`` and
    ``stop()``. ``end_date_inclusive`` chooses how ``end_created_date``/``end_assigned_at`` are
    read: inclusive by default (the reading most dangerous to clients that assume half-open
    ranges), exclusive when False. ``keep_bodies=False`` stops recording ``served_bodies`` (a
    benchmark serving 300,000 calls does not want them in memory). ``denied_resources`` (a subset
    of ``calls``, ``phones``, ``agents``) simulates a key without Read permission on those
    resources: their endpoints answer 403 with the documented body, the others serve as usual.
    ``live_clock`` moves the world's clock to the wall clock before each API request, so calls
    arrive during the day as they would at Diga (the demo's UI shows today growing).
    """

    def __init__(
        self,
        world: World,
        api_key: str = "sim-test-key",
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
        end_date_inclusive: bool = True,
        keep_bodies: bool = True,
        denied_resources: Iterable[str] = (),
        live_clock: bool = False,
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the simulator only binds loopback hosts, not {host!r}")
        if not api_key:
            raise ValueError("api_key must not be empty")
        denied = frozenset(denied_resources)
        if not denied <= RESOURCE_PATHS.keys():
            unknown = sorted(denied - RESOURCE_PATHS.keys())
            raise ValueError(f"unknown resources {unknown}; known: {sorted(RESOURCE_PATHS)}")
        self.world = world
        self.live_clock = live_clock
        self.denied_resources = denied
        self._denied_paths = frozenset(path for name in denied for path in RESOURCE_PATHS[name])
        self.end_date_inclusive = end_date_inclusive
        self.keep_bodies = keep_bodies
        self._api_key = api_key.encode("utf-8")
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._faults = faults if faults is not None else FaultConfig()
        self._lock = threading.Lock()
        self._request_log = RequestLog()
        self._bodies: list[tuple[str, int, bytes]] = []
        self._connections_accepted = 0
        self._open_sockets: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._model: StatusModel = world.status_model
        # Transcripts exist only in the live document (see the module docstring).
        self._serves_messages = self._model == "current"
        paged = (*LIST_PATHS, MESSAGES_PATH) if self._serves_messages else LIST_PATHS
        self._parameters = {path: document(self._model, path).query_parameters(path) for path in paged}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> DigaSimulator:
        """Bind the port and serve from a daemon thread; returns self for chaining."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = _Server((self._host, self._port), self, ipv6=":" in self._host)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"diga-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and join the server thread."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=10)
        self._server = None
        self._thread = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C interrupts the wait in the main thread)."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> DigaSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (the one the OS picked when constructed with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, what a client takes as ``DIGA_API_BASE_URL``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    # -- observation ---------------------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        """The active fault configuration; assigning a new one takes effect on the next request."""
        return self._faults

    @faults.setter
    def faults(self, value: FaultConfig) -> None:
        self._faults = value

    @property
    def request_log(self) -> RequestLog:
        """Every request so far (``.all()``, ``.requests_to(path)``, iteration, ``len``)."""
        return self._request_log

    def requests_to(self, path: str) -> list[RequestRecord]:
        """The request records for one path (e.g. ``/v1/call/``)."""
        return self._request_log.requests_to(path)

    @property
    def served_bodies(self) -> list[tuple[str, int, Any]]:
        """(path, status, parsed body) for every complete JSON body served, for contract checks."""
        return [(path, status, orjson.loads(body)) for path, status, body in self.served_body_bytes]

    @property
    def served_body_bytes(self) -> list[tuple[str, int, bytes]]:
        """(path, status, body as sent) for every complete JSON body served."""
        with self._lock:
            return list(self._bodies)

    @property
    def connections_accepted(self) -> int:
        """How many TCP connections the server accepted (keep-alive reuses one)."""
        with self._lock:
            return self._connections_accepted

    # -- internals used by the handler ---------------------------------------------------------

    def _connection_opened(self, sock: socket.socket) -> int:
        with self._lock:
            self._connections_accepted += 1
            self._open_sockets.add(sock)
            return self._connections_accepted

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_sockets.discard(sock)

    def _log(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        status: int | None,
        fault: str | None,
        conn: int,
        arrived: float,
    ) -> None:
        self._request_log.append(RequestRecord(method, path, query, status, fault, conn, arrived))

    def _served(self, path: str, status: int, body: bytes) -> None:
        if self.keep_bodies:
            with self._lock:
                self._bodies.append((path, status, body))

    def _endpoint_of(self, path: str) -> str | None:
        """The documented endpoint a requested path is served as, or None for an unknown route."""
        if path in API_PATHS:
            return path
        if self._serves_messages and _MESSAGES_ROUTE.match(path):
            return MESSAGES_PATH
        return None

    def _internal_error_body(self, path: str) -> bytes:
        spec_path = path if path in API_PATHS or path == MESSAGES_PATH else CALLS_PATH
        example = response_example(self._model, spec_path, "500")
        return orjson.dumps(example)

    def _fault_response(self, fault: Fault, path: str) -> tuple[int, bytes, str, list[tuple[str, str]]]:
        assert fault.status is not None
        status = fault.status
        headers: list[tuple[str, str]] = []
        default_retry = self._faults.retry_after if status == 429 else None
        if status == 429 and self._faults.retry_after == "http-date" and fault.retry_after is None:
            fault = Fault(
                "status", status=429, retry_after="http-date", retry_after_seconds=self._faults.retry_after_seconds
            )
        retry_after = fault.retry_after_header(default_retry, time.time())
        if retry_after is not None:
            headers.append(("Retry-After", retry_after))
        if fault.html:
            reason = _REASONS.get(status, "Error")
            page = (
                f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
                f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
                "</body>\r\n</html>\r\n"
            )
            return status, page.encode(), "text/html", headers
        code = _STATUS_CODES.get(status, f"HTTP_{status}")
        message = "Too many requests, slow down" if status == 429 else f"Upstream answered {status}"
        return status, ApiError(status, code, message).body(), "application/json", headers

    def _admin(self, method: str, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        if path == ADMIN_PREFIX + "advance":
            if method != "POST":
                return 405, ApiError(405, "METHOD_NOT_ALLOWED", "use POST").body()
            try:
                hours = float(query.get("hours", "0"))
                if not 0 <= hours <= 24 * 3650:
                    raise ValueError
            except ValueError:
                return 400, ApiError(400, "NOT_VALID_FIELD", f"hours={query.get('hours')!r} is invalid").body()
            now = self.world.advance(timedelta(hours=hours))
            return 200, orjson.dumps({"now": now.isoformat().replace("+00:00", "Z"), "advanced_hours": hours})
        if path == ADMIN_PREFIX + "state":
            if method != "GET":
                return 405, ApiError(405, "METHOD_NOT_ALLOWED", "use GET").body()
            state = self.world.state()
            state["requests"] = len(self._request_log)
            state["connections"] = self.connections_accepted
            return 200, orjson.dumps(state)
        return 404, ApiError(404, "NOT_FOUND", f"No simulator admin route {path}").body()

    def _check_access(self, path: str, authorization: str | None) -> None:
        """Raise the documented 403 unless the key is right and may read the path's resource."""
        token = b""
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip().encode("utf-8", "surrogateescape")
        # Compare in constant time even when the header is missing, so timing says nothing.
        refused = not hmac.compare_digest(token, self._api_key) or not token
        if refused or path in self._denied_paths:
            example = response_example(self._model, path, "403")
            raise ApiError(403, example["error_code"], example["message"])

    def _agents(self, authorization: str | None, fault: Fault | None) -> tuple[int, bytes]:
        try:
            self._check_access(AGENTS_PATH, authorization)
        except ApiError as error:
            return error.status, error.body()
        agents = self.world.agents_dropdown()
        # The page-shaped faults (stuck_cursor, empty_has_more) have no page to distort here.
        if fault is not None and fault.kind == "wrong_type" and agents:
            agents[0] = _with_field(agents[0], fault.record_field.split("."), fault.wrong_value)
        return 200, orjson.dumps(agents)

    def _list(
        self, path: str, pairs: list[tuple[str, str]], authorization: str | None, fault: Fault | None
    ) -> tuple[int, bytes]:
        try:
            self._check_access(path, authorization)
            query = self._parse_query(path, pairs)
            world = self.world
            page = world.list_calls(query) if path == CALLS_PATH else world.list_phones(query)
        except ApiError as error:
            return error.status, error.body()
        except UnknownCursorError as error:
            noun = "call" if path == CALLS_PATH else "phone"
            message = (
                f"Invalid value for query parameter '{error.parameter}': {error.value!r} "
                f"is not the id of a {noun} in this listing"
            )
            return 400, ApiError(400, "NOT_VALID_FIELD", message).body()
        return 200, _faulty_page_body(page, query, fault)

    def _messages(
        self, path: str, pairs: list[tuple[str, str]], authorization: str | None, fault: Fault | None
    ) -> tuple[int, bytes]:
        """``GET /v1/call/{id}/message``: one page of a call's transcript, or why not."""
        call_id = None
        try:
            self._check_access(MESSAGES_PATH, authorization)
            found = _MESSAGES_ROUTE.match(path)
            call_id = canonical_uuid(found.group(1)) if found else None
            if call_id is None:
                example = response_example(self._model, MESSAGES_PATH, "400")
                raise ApiError(400, example["error_code"], example["message"])
            query = self._parse_query(MESSAGES_PATH, pairs)
            page = self.world.list_call_messages(call_id, query)
        except ApiError as error:
            return error.status, error.body()
        except UnknownCallError:
            # The wording of GET /v1/call/{id}'s documented 404, the error for a call that is not there.
            return 404, ApiError(404, "CALL_NOT_FOUND", f"Call {call_id} not found").body()
        except NoMessagesError:
            # The wording of the endpoint's documented 404 example.
            return 404, ApiError(404, "NO_MESSAGES_FOR_CALL", f"No messages found for call {call_id}").body()
        except UnknownCursorError as error:
            message = (
                f"Invalid value for query parameter '{error.parameter}': {error.value!r} "
                f"is not the id of a message of call {call_id}"
            )
            return 400, ApiError(400, "NOT_VALID_FIELD", message).body()
        return 200, _faulty_page_body(page, query, fault)

    def _parse_query(self, path: str, pairs: list[tuple[str, str]]) -> ListQuery:
        parameters = self._parameters[path]
        raw: dict[str, str] = {}
        for name, value in pairs:
            if name in parameters:  # unknown parameters are ignored, as the API does
                raw[name] = value
        values: dict[str, Any] = {}
        for name, text in raw.items():
            values[name] = self._convert(path, parameters[name], text)
        if "after" in values and "before" in values:
            raise ApiError(422, "INVALID_PAGINATION_PARAMETERS", "Cannot specify both 'before' and 'after' parameters")
        if "page" in values and ("after" in values or "before" in values):
            raise ApiError(
                422,
                "INVALID_PAGINATION_PARAMETERS",
                "Cannot specify 'page' together with 'before' or 'after' parameters",
            )
        start_ns = end_ns = None
        filters: dict[str, str] = {}
        for name, value in values.items():
            spec = parameters[name]
            if name in PAGINATION_PARAMETERS:
                continue
            if spec.kind == "date-time":
                if name.startswith("start_"):
                    start_ns = value
                elif name.startswith("end_"):
                    end_ns = value
            else:
                filters[name] = value
        # The world works on half-open microsecond ranges [start_us, end_us).
        start_us = None if start_ns is None else -(-start_ns // 1000)
        end_us = None
        if end_ns is not None:
            end_us = end_ns // 1000 + 1 if self.end_date_inclusive else -(-end_ns // 1000)
        return ListQuery(
            order=values.get("order", parameters["order"].default),
            limit=values.get("limit", parameters["limit"].default),
            page=values.get("page"),
            after=values.get("after"),
            before=values.get("before"),
            start_us=start_us,
            end_us=end_us,
            filters=filters,
        )

    def _convert(self, path: str, spec: QueryParameter, text: str) -> Any:
        def invalid(reason: str) -> ApiError:
            shown = text if len(text) <= 80 else text[:77] + "..."
            return ApiError(
                400, "NOT_VALID_FIELD", f"Invalid value for query parameter '{spec.name}': {shown!r} ({reason})"
            )

        if spec.kind == "uuid":
            try:
                return str(uuid.UUID(text))
            except ValueError:
                raise invalid("expected a UUID") from None
        if spec.kind == "date-time":
            try:
                return parse_rfc3339_ns(text)
            except ValueError:
                raise invalid("expected an RFC 3339 date-time with a UTC offset, e.g. 2024-05-01T00:00:00Z") from None
        if spec.kind == "integer":
            if not _INTEGER.match(text):
                raise invalid("expected an integer")
            number = int(text)
            if spec.minimum is not None and number < spec.minimum:
                raise invalid(f"must be >= {spec.minimum}")
            if spec.maximum is not None and number > spec.maximum:
                raise invalid(f"must be <= {spec.maximum}")
            return number
        if spec.kind == "enum":
            choices = spec.choices or frozenset()
            if text not in choices:
                raise invalid("expected one of " + ", ".join(sorted(choices)))
            return text
        return text


def document(model: StatusModel, path: str) -> OpenApiDocument:
    """The document that describes ``path`` under a status model.

    The seed model's listings follow their published pages; everything else (the current model,
    and the agents endpoint, which no published page covers) follows the live document.
    """
    if model == "seed" and path in LIST_PATHS:
        return seed_page(path)
    return live()


def response_example(model: StatusModel, path: str, status: str) -> dict[str, Any]:
    """The example body the model's document gives for one response status of an endpoint.

    The agents dropdown documents no error bodies; its resource's listing does, so they are read
    from there.
    """
    doc = document(model, path)
    for candidate in (path, _AGENTS_LIST_PATH) if path == AGENTS_PATH else (path,):
        documented = doc.operation(candidate)["responses"].get(status, {})
        example = documented.get("content", {}).get("application/json", {}).get("example")
        if example is not None:
            return dict(example)
    raise LookupError(f"{doc.name} documents no example body for {status} on {path}")


def _with_field(record: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """``record`` with the field at ``path`` set to ``value`` (missing parents are created)."""
    target = record
    for key in path[:-1]:
        child = target.get(key)
        target[key] = child = child if isinstance(child, dict) else {}
        target = child
    target[path[-1]] = value
    return record


def _faulty_page_body(page: Page, query: ListQuery, fault: Fault | None) -> bytes:
    """The page's body, distorted by the page-shaped faults (see :class:`Fault`)."""
    if fault is not None and fault.kind == "stuck_cursor":
        return _page_body(page, last_id=query.after)
    if fault is not None and fault.kind == "no_total_pages":
        return _page_body(replace(page, current_page=None, total_pages=None))
    if fault is not None and fault.kind == "empty_has_more":
        return _page_body(Page([], None, None, True, page.current_page, page.total_pages))
    if fault is not None and fault.kind == "wrong_type" and page.data:
        first = _with_field(orjson.loads(page.data[0]), fault.record_field.split("."), fault.wrong_value)
        data = [orjson.dumps(first), *page.data[1:]]
        return _page_body(replace(page, data=data))
    return _page_body(page)


def _page_body(page: Page, *, last_id: Any = ...) -> bytes:
    envelope = orjson.dumps(
        {
            "first_id": page.first_id,
            "last_id": page.last_id if last_id is ... else last_id,
            "has_more": page.has_more,
            "current_page": page.current_page,
            "total_pages": page.total_pages,
        }
    )
    return b'{"data":[' + b",".join(page.data) + b"]," + envelope[1:]

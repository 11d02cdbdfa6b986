"""The Diga API client, specified against the simulator over real HTTP: cursor walks, retries
that honour Retry-After within their caps, typed errors, local validation, and a key that never
leaks into logs or exception text."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as http_date

import pytest

from diga_assets.api import spec
from diga_assets.api.client import DigaClient, RetryPolicy
from diga_assets.api.errors import (
    DigaApiError,
    DigaAuthError,
    DigaConnectionError,
    DigaProtocolError,
    DigaRateLimitError,
    DigaRequestValidationError,
    DigaServerError,
)
from diga_assets.api.retry import parse_retry_after
from diga_assets.simulator import Fault, FaultConfig
from diga_assets_tests.conftest import SIM_KEY


class RecordedSleep:
    """Stands in for time.sleep so retry waits are asserted exactly and cost no test time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(sim, *, api_key: str = SIM_KEY, sleep=None, **retry) -> DigaClient:
    return DigaClient(
        api_key,
        sim.base_url,
        read_timeout_s=5,
        retry=RetryPolicy(**retry) if retry else RetryPolicy(),
        sleep=sleep or RecordedSleep(),
    )


def api_requests(sim, path: str = spec.CALLS_PATH) -> list:
    return sim.requests_to(path)


# ---------------------------------------------------------------- pagination


def test_walks_thousands_of_calls_across_pages_exactly_once(start_simulator):
    sim = start_simulator(days=8, calls_per_day=500)
    expected = [c["id"] for c in sim.world.calls_visible()]
    assert len(expected) > 3000

    with make_client(sim) as client:
        pages = list(client.iter_call_pages(limit=997))
    got = [call["id"] for page in pages for call in page.data]

    assert got == expected
    assert len(set(got)) == len(got)
    assert len(pages) == -(-len(expected) // 997)
    assert pages[-1].has_more is False


def test_a_walk_reads_every_page_over_one_kept_alive_connection(start_simulator):
    # Bodies are read whole from a streamed response: the connection must still go back to the
    # pool after each page, the error answers' included.
    sim = start_simulator(days=3, calls_per_day=300, faults=FaultConfig(script=[Fault("status", status=503)]))

    with make_client(sim) as client:
        pages = list(client.iter_call_pages(limit=100))

    assert len(pages) > 5
    assert len(api_requests(sim)) == len(pages) + 1  # the 503, then every page
    assert sim.connections_accepted == 1


def test_descending_walk_is_the_reverse_of_ascending(start_simulator):
    sim = start_simulator(days=2, calls_per_day=300)
    with make_client(sim) as client:
        ascending = [c["id"] for p in client.iter_call_pages(limit=100, order="asc") for c in p.data]
        descending = [c["id"] for p in client.iter_call_pages(limit=100, order="desc") for c in p.data]
    assert descending == ascending[::-1]
    assert len(ascending) == len(sim.world.calls_visible())


def test_walks_phones(start_simulator):
    sim = start_simulator(phones=30)
    with make_client(sim) as client:
        pages = list(client.iter_phone_pages(limit=7))
    got = [p["id"] for page in pages for p in page.data]
    assert sorted(got) == sorted(p["id"] for p in sim.world.phones_visible())
    assert len(pages) >= 5


def test_date_filters_are_sent_in_utc_and_respected(start_simulator):
    sim = start_simulator()
    start = datetime(2026, 11, 18, 1, 0, tzinfo=UTC) + timedelta(hours=1)
    madrid_end = datetime.fromisoformat("2026-11-19T01:00:00+01:00")  # 00:00 UTC
    with make_client(sim) as client:
        got = [
            c["id"]
            for p in client.iter_call_pages(start_created_date=start, end_created_date=madrid_end)
            for c in p.data
        ]
    sent = api_requests(sim)[0].query
    assert sent["start_created_date"] == "2026-11-18T02:00:00Z"
    assert sent["end_created_date"] == "2026-11-19T00:00:00Z"
    # The simulator reads end_created_date as inclusive by default.
    expected = sim.world.calls_created_between(start, madrid_end + timedelta(microseconds=1))
    assert got == [c["id"] for c in expected]
    assert got


def test_a_cursor_that_does_not_advance_is_an_error_not_a_loop(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[None, Fault("stuck_cursor")]), validate=False)
    with make_client(sim) as client, pytest.raises(DigaProtocolError, match="does not advance") as info:
        for _ in client.iter_call_pages(limit=50):
            pass
    assert "GET /v1/call/" in str(info.value)
    assert len(api_requests(sim)) == 2


def test_has_more_with_an_empty_page_is_an_error(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("empty_has_more")]), validate=False)
    with make_client(sim) as client, pytest.raises(DigaProtocolError, match="has_more=true with 0 records"):
        list(client.iter_call_pages(limit=50))
    assert len(api_requests(sim)) == 1


# ---------------------------------------------------------------- retries


def test_survives_429s_and_honours_retry_after_in_seconds(start_simulator):
    sim = start_simulator(
        faults=FaultConfig(
            script=[
                Fault("status", status=429, retry_after="7"),
                None,
                Fault("status", status=429, retry_after="3"),
            ]
        )
    )
    sleep = RecordedSleep()
    with make_client(sim, sleep=sleep, backoff_base_s=0.01) as client:
        got = [c["id"] for p in client.iter_call_pages(limit=200) for c in p.data]
    assert got == [c["id"] for c in sim.world.calls_visible()]
    assert len(sleep.calls) == 2
    assert sleep.calls[0] >= 7 and sleep.calls[1] >= 3
    statuses = [r.status for r in api_requests(sim)]
    assert statuses.count(429) == 2
    assert len(statuses) == -(-len(got) // 200) + 2


def test_honours_retry_after_as_an_http_date(start_simulator):
    when = http_date(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=429, retry_after=when)]))
    sleep = RecordedSleep()
    with make_client(sim, sleep=sleep, backoff_base_s=0.01) as client:
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    assert len(sleep.calls) == 1
    assert 27 <= sleep.calls[0] <= 31


def test_really_waits_for_retry_after(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=429, retry_after="1")]))
    with DigaClient(SIM_KEY, sim.base_url, retry=RetryPolicy(backoff_base_s=0.0)) as client:
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    first, second = api_requests(sim)
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_survives_a_burst_of_server_errors(start_simulator, status):
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=status)] * 3))
    sleep = RecordedSleep()
    with make_client(sim, sleep=sleep, backoff_base_s=0.5, backoff_max_s=4) as client:
        page = client.get_page(spec.CALLS_PATH, {"limit": 10})
    assert page.attempts == 4 and page.retries == 3
    assert len(page.data) == 10
    # Full jitter: each pause is within [0, base * 2**(n-1)].
    assert all(0 <= s <= 0.5 * 2**i for i, s in enumerate(sleep.calls))
    assert len(api_requests(sim)) == 4


def test_gives_up_after_max_attempts_with_the_request_named(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=503)] * 10))
    with make_client(sim, max_attempts=4) as client, pytest.raises(DigaServerError) as info:
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    assert len(api_requests(sim)) == 4
    assert info.value.status == 503 and info.value.attempts == 4
    assert "GET /v1/call/?limit=10" in str(info.value)
    assert "gave up after 4 attempts" in str(info.value)


def test_rate_limit_beyond_the_wait_cap_fails_without_sleeping(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=429, retry_after="600")]))
    sleep = RecordedSleep()
    with (
        make_client(sim, sleep=sleep, max_total_wait_s=60) as client,
        pytest.raises(DigaRateLimitError) as info,
    ):
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    assert sleep.calls == []
    assert "total wait cap of 60.0s" in str(info.value)
    assert len(api_requests(sim)) == 1


def test_total_wait_is_capped(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=429, retry_after="4")] * 10))
    sleep = RecordedSleep()
    with (
        make_client(sim, sleep=sleep, max_attempts=10, max_total_wait_s=10) as client,
        pytest.raises(DigaRateLimitError),
    ):
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    assert sum(sleep.calls) <= 10
    assert len(api_requests(sim)) == 3


def test_a_proxy_html_502_gives_a_clear_message(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("status", status=502, html=True)] * 2), validate=False)
    with make_client(sim, max_attempts=2) as client, pytest.raises(DigaServerError) as info:
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    message = str(info.value)
    assert "502" in message and "not Diga's error JSON" in message and "text/html" in message


def test_dropped_and_truncated_responses_are_retried(start_simulator):
    sim = start_simulator(
        faults=FaultConfig(script=[Fault("drop"), Fault("drop_mid_body"), Fault("truncate")]), validate=False
    )
    with make_client(sim) as client:
        page = client.get_page(spec.CALLS_PATH, {"limit": 100})
    assert page.attempts == 4
    assert [c["id"] for c in page.data] == [c["id"] for c in sim.world.calls_visible()][::-1][:100]


def test_a_response_slower_than_the_read_timeout_is_retried_then_fails(start_simulator):
    sim = start_simulator(faults=FaultConfig(script=[Fault("slow", delay_s=1.5)] * 2), validate=False)
    client = DigaClient(
        SIM_KEY, sim.base_url, read_timeout_s=0.3, retry=RetryPolicy(max_attempts=2), sleep=RecordedSleep()
    )
    with client, pytest.raises(DigaConnectionError, match="ReadTimeout"):
        client.get_page(spec.CALLS_PATH, {"limit": 10})
    assert len(api_requests(sim)) == 2


# ---------------------------------------------------------------- errors that are never retried


def test_a_refused_key_fails_at_once_with_a_clear_message(start_simulator):
    sim = start_simulator()
    sleep = RecordedSleep()
    with (
        make_client(sim, api_key="wrong-key-123", sleep=sleep) as client,
        pytest.raises(DigaAuthError) as info,
    ):
        list(client.iter_call_pages())
    assert str(info.value).startswith("the API key was refused (403 ")
    # What to fix, and where: the key's permission on the resource this endpoint reads.
    assert "DIGA_API_KEY lacks Read permission on Calls" in str(info.value)
    assert "give the key Read access to Calls" in str(info.value) and "wrong-key-123" not in str(info.value)
    assert info.value.status == 403 and info.value.path == "/v1/call/"
    assert sleep.calls == []
    assert len(api_requests(sim)) == 1


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (spec.CALLS_PATH, {"limit": 0}, "limit"),
        (spec.CALLS_PATH, {"limit": 1001}, "limit"),
        (spec.PHONES_PATH, {"limit": 101}, "limit"),
        (spec.CALLS_PATH, {"limit": "50"}, "limit"),
        (
            spec.CALLS_PATH,
            {
                "before": "0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a11",
                "after": "0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a12",
            },
            "before/after",
        ),
        (spec.CALLS_PATH, {"agent_id": "not-a-uuid"}, "agent_id"),
        (spec.CALLS_PATH, {"status": "voicemail"}, "status"),
        (spec.CALLS_PATH, {"type": "sideways"}, "type"),
        (spec.CALLS_PATH, {"order": "up"}, "order"),
        (spec.CALLS_PATH, {"start_created_date": datetime(2026, 11, 1)}, "start_created_date"),
        (spec.CALLS_PATH, {"end_created_date": "yesterday"}, "end_created_date"),
        (spec.CALLS_PATH, {"inbound_agent_id": "0b3c3c5e-8c7e-4b7a-9a53-5d5b8f0f0a11"}, "inbound_agent_id"),
        (spec.PHONES_PATH, {"status": "lost"}, "status"),
        (spec.PHONES_PATH, {"page": 0}, "page"),
    ],
)
def test_invalid_parameters_are_refused_before_any_request(start_simulator, path, params, parameter):
    sim = start_simulator()
    with make_client(sim) as client, pytest.raises(DigaRequestValidationError) as info:
        list(client.iter_pages(path, params))
    assert info.value.parameter == parameter
    assert parameter in str(info.value) and path in str(info.value)
    assert sim.request_log == []


@pytest.mark.parametrize("status", ["failed", "transferred", "no_answer"])
def test_statuses_the_live_api_no_longer_has_are_refused_as_filters_naming_the_value(start_simulator, status):
    sim = start_simulator(status_model="current")
    with make_client(sim) as client, pytest.raises(DigaRequestValidationError) as info:
        list(client.iter_call_pages(status=status))
    assert info.value.parameter == "status" and repr(status) in str(info.value)
    assert "'in_queue'" in str(info.value), "the message lists the values the API takes"
    assert sim.request_log == []


def test_the_live_status_values_are_accepted_as_filters(start_simulator):
    sim = start_simulator(status_model="current")
    with make_client(sim) as client:
        list(client.iter_call_pages(status="in_queue"))
        list(client.iter_phone_pages(status="pending_verification"))
    assert len(sim.request_log) == 2


def test_plain_http_is_refused_for_non_loopback_hosts():
    with pytest.raises(ValueError, match="travel in clear"):
        DigaClient("k", "http://api.example.com")
    DigaClient("k", "http://127.0.0.1:1").close()
    DigaClient("k", "http://localhost:1").close()
    DigaClient("k", "https://api.diga.io").close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("5", 5.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 60.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, expected):
    now = datetime(2026, 10, 21, 7, 27, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


# ---------------------------------------------------------------- the key is a secret


def test_the_key_never_appears_in_logs_or_errors(start_simulator, caplog):
    secret = "dg_live_" + "7f3a9c" * 6
    sim = start_simulator(
        api_key=secret,
        faults=FaultConfig(script=[Fault("status", status=429, retry_after="0"), Fault("drop")]),
        validate=False,
    )
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    with make_client(sim, api_key=secret) as client:
        texts.append(repr(client))
        list(client.iter_call_pages(limit=500))  # retries are logged
        sim.faults.script.extend([Fault("status", status=503)] * 6)
        with pytest.raises(DigaApiError) as exhausted:
            client.get_page(spec.CALLS_PATH, {"limit": 5})
        texts += [str(exhausted.value), repr(exhausted.value), repr(exhausted.value.__cause__)]
    with make_client(sim, api_key=secret + "-wrong") as client, pytest.raises(DigaAuthError) as refused:
        client.get_page(spec.CALLS_PATH, {"limit": 5})
    texts += [str(refused.value), repr(refused.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retry" in t for t in texts), "the retries should have been logged"
    for text in texts:
        assert secret not in text

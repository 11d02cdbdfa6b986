"""Pagination over real HTTP: cursor walks, ``before``, page numbers, limits and keep-alive."""

from __future__ import annotations

import pytest
import requests

from diga_assets.api.spec import seed_page
from diga_assets.simulator import DigaSimulator, World
from diga_assets_tests.simulator.conftest import CALLS, FIXED_NOW, PHONES


def walk(get, path: str, order: str, limit: int, **params) -> list[dict]:
    """Follow ``after=last_id`` until ``has_more`` is false, as a plain client would."""
    items: list[dict] = []
    cursor = None
    for _ in range(10_000):
        query = {"order": order, "limit": limit, **params}
        if cursor:
            query["after"] = cursor
        body = get(path, **query).json()
        items.extend(body["data"])
        assert body["current_page"] is None and body["total_pages"] is None
        if body["data"]:
            assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]
        if not body["has_more"]:
            return items
        cursor = body["last_id"]
    raise AssertionError("the walk never ended")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_cursor_walk_returns_every_visible_call_once_in_order(get, simulator: DigaSimulator, order: str) -> None:
    expected = [c["id"] for c in simulator.world.calls_visible()]
    if order == "desc":
        expected.reverse()
    served = walk(get, CALLS, order, 17)
    assert [c["id"] for c in served] == expected
    assert len(simulator.requests_to(CALLS)) == -(-len(expected) // 17)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_cursor_walk_over_phones(get, simulator: DigaSimulator, order: str) -> None:
    expected = [p["id"] for p in simulator.world.phones_visible()]
    if order == "desc":
        expected.reverse()
    assert [p["id"] for p in walk(get, PHONES, order, 4)] == expected


def test_served_calls_equal_the_worlds_view(get, simulator: DigaSimulator) -> None:
    served = walk(get, CALLS, "asc", 1000)
    assert served == simulator.world.calls_visible()


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_before_returns_the_page_right_before_the_cursor_in_the_requested_order(
    get, simulator: DigaSimulator, order: str
) -> None:
    ids = [c["id"] for c in simulator.world.calls_visible()]
    if order == "desc":
        ids.reverse()
    first = get(CALLS, order=order, limit=10).json()
    second = get(CALLS, order=order, limit=10, after=first["last_id"]).json()
    back = get(CALLS, order=order, limit=10, before=second["first_id"]).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first["data"]] == ids[:10]
    assert back["has_more"] is False, "nothing precedes the first page"
    x = ids[25]
    middle = get(CALLS, order=order, limit=10, before=x).json()
    assert [c["id"] for c in middle["data"]] == ids[15:25]
    assert middle["has_more"] is True
    short = get(CALLS, order=order, limit=10, before=ids[4]).json()
    assert [c["id"] for c in short["data"]] == ids[:4]
    assert short["has_more"] is False


def test_walking_backwards_with_before_covers_everything(get, simulator: DigaSimulator) -> None:
    ids = [c["id"] for c in simulator.world.calls_visible()]
    collected: list[str] = []
    cursor = ids[-1]
    collected.append(cursor)
    while True:
        body = get(CALLS, order="asc", limit=9, before=cursor).json()
        collected[:0] = [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        cursor = body["first_id"]
    assert collected == ids


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_page_numbers(get, simulator: DigaSimulator, order: str) -> None:
    ids = [c["id"] for c in simulator.world.calls_visible()]
    if order == "desc":
        ids.reverse()
    total_pages = -(-len(ids) // 20)
    collected = []
    for number in range(1, total_pages + 1):
        body = get(CALLS, order=order, limit=20, page=number).json()
        assert body["current_page"] == number and body["total_pages"] == total_pages
        assert body["has_more"] is (number < total_pages)
        collected += [c["id"] for c in body["data"]]
    assert collected == ids
    beyond = get(CALLS, order=order, limit=20, page=total_pages + 1).json()
    assert beyond["data"] == [] and beyond["has_more"] is False and beyond["first_id"] is None
    assert beyond["last_id"] is None


def test_page_numbers_with_a_filter(get, simulator: DigaSimulator) -> None:
    inbound = [c["id"] for c in simulator.world.calls_visible() if c["type"] == "inbound"]
    body = get(CALLS, order="asc", limit=7, page=2, type="inbound").json()
    assert [c["id"] for c in body["data"]] == inbound[7:14]
    assert body["total_pages"] == -(-len(inbound) // 7)


@pytest.mark.parametrize(("path", "default", "maximum"), [(CALLS, 50, 1000), (PHONES, 20, 100)])
def test_limit_defaults_and_bounds_come_from_the_spec(
    get, make_simulator, path: str, default: int, maximum: int
) -> None:
    spec = seed_page(path).query_parameters(path)["limit"]
    assert (spec.default, spec.minimum, spec.maximum) == (default, 1, maximum)
    sim = make_simulator(World(seed=5, now=FIXED_NOW, days=3, calls_per_day=500, phones=150))
    assert len(get(path, sim).json()["data"]) == default
    assert len(get(path, sim, limit=maximum).json()["data"]) == maximum
    assert len(get(path, sim, limit=1).json()["data"]) == 1
    for bad in (0, maximum + 1, -3):
        response = get(path, sim, limit=bad)
        assert response.status_code == 400
        assert "limit" in response.json()["message"] and str(bad) in response.json()["message"]


def test_default_order_is_descending(get, simulator: DigaSimulator) -> None:
    newest = simulator.world.calls_visible()[-1]["id"]
    assert get(CALLS).json()["first_id"] == newest


def test_keep_alive_reuses_one_connection(simulator: DigaSimulator) -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = "Bearer sim-test-key"
        for params in ({"limit": 5}, {"limit": 1000}, {"order": "asc"}, {"limit": 2, "page": 3}):
            assert session.get(simulator.base_url + CALLS, params=params, timeout=10).status_code == 200
        assert session.get(simulator.base_url + "/nowhere", timeout=10).status_code == 404
        assert session.get(simulator.base_url + PHONES, timeout=10).status_code == 200
    assert simulator.connections_accepted == 1
    assert {record.connection for record in simulator.request_log} == {1}
    assert len(simulator.request_log) == 6


def test_an_empty_listing(get, simulator: DigaSimulator) -> None:
    body = get(CALLS, start_created_date="2030-01-01T00:00:00Z").json()
    assert body == {
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
        "current_page": None,
        "total_pages": None,
    }

"""``call_report``: a self-contained HTML page with every documented chart, readable offline,
whose materialization links the file and carries the headline chart for the UI."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pytest

from diga_assets.assets.common import DigaGraph
from diga_assets.assets.report import build_report_asset
from diga_assets.names import CALL_CONCURRENCY, CALL_KPIS, CALL_REPORT, REPEAT_CALLERS
from diga_assets_tests.assets.conftest import settings_for, storage_for
from diga_assets_tests.metric_data import (
    agent,
    call,
    materialize_metrics,
    materialize_timeline,
    phone,
    write_raw_agents,
    write_raw_calls,
    write_raw_phones,
)

# Run against a local data directory and against a bucket (each_storage).
pytestmark = pytest.mark.usefixtures("each_storage")


DAYS = ("2026-11-03", "2026-11-04", "2026-11-05")
OPERATIONS_METRICS = (CALL_KPIS, REPEAT_CALLERS, CALL_CONCURRENCY)
CHARTS = ("volume", "completion", "duration", "versions", "load", "repeat-callers", "phones")


def materialize_report(tmp_path) -> dg.ExecuteInProcessResult:
    graph = DigaGraph(settings_for(tmp_path / "data"))
    return dg.materialize([build_report_asset(graph)], resources={"storage": storage_for(tmp_path)})


def report_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = result.get_asset_materialization_events()
    return event.event_specific_data.materialization.metadata


def store_three_days_and_two_snapshots(tmp_path) -> int:
    """Raw calls over three days (two agents, two versions, mixed outcomes) and phone snapshots."""
    stored = 0
    for n, day in enumerate(DAYS):
        records = [
            call(
                f"{day}-{i}",
                f"{day}T{9 + i % 8:02d}:00:00Z",
                status=("completed", "failed", "no_answer", "transferred")[i % 4],
                agent_id=("agent-a", "agent-b", None)[i % 3],
                version=("v1", "v2")[(i + n) % 2],
                duration=30 + 7 * i,
            )
            for i in range(12 + n)
        ]
        write_raw_calls(storage_for(tmp_path), day, records)
        stored += len(records)
    write_raw_phones(
        storage_for(tmp_path),
        "2026-11-04",
        [phone("p1", "assigned", inbound="agent-a"), phone("p2", "assigned", inbound="agent-b")],
        datetime(2026, 11, 5, 0, 10, tzinfo=UTC),
    )
    write_raw_phones(
        storage_for(tmp_path),
        "2026-11-05",
        [phone("p1", "assigned", inbound="agent-b"), phone("p2", "released", released_at="2026-11-05T12:00:00Z")],
        datetime(2026, 11, 6, 0, 10, tzinfo=UTC),
    )
    materialize_metrics(
        tmp_path,
        ["call_outcome_rates", "call_duration_stats", "agent_version_outcomes", *OPERATIONS_METRICS],
        first=DAYS[0],
        last=DAYS[-1],
        checks=False,
    )
    materialize_timeline(tmp_path)
    return stored


def test_the_report_has_every_chart_inline_and_nothing_to_fetch(tmp_path):
    calls = store_three_days_and_two_snapshots(tmp_path)

    result = materialize_report(tmp_path)

    html = storage_for(tmp_path).store.read_bytes(storage_for(tmp_path).layout.report_file(CALL_REPORT)).decode("utf-8")
    for anchor in CHARTS:
        section = re.search(rf'<section id="{anchor}" class="chart">(.*?)</section>', html, re.S)
        assert section, f"chart {anchor} missing"
        assert "<svg" in section.group(1), f"chart {anchor} is not an inline SVG"
    assert html.count("<svg") == len(CHARTS)
    # Offline: no scripts, and nothing loaded from elsewhere (SVG namespace URIs are not fetched).
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "url(http" not in html and "@import" not in html
    assert f"{calls:,}" in html and f"{DAYS[0]} to {DAYS[-1]} (3)" in html
    # The charts carry their data as text: days on the axes, every agent version, every phone.
    texts = set(re.findall(r"<text[^>]*>([^<]+)</text>", html))
    volume = re.search(r'<section id="volume".*?</section>', html, re.S).group(0)
    day_ticks = [t for t in re.findall(r"<text[^>]*>([^<]+)</text>", volume) if t.endswith(" Nov")]
    assert day_ticks == ["03 Nov", "04 Nov", "05 Nov"], "one tick per day, each day once"
    for label in ("03 Nov", "05 Nov", "agent-a · v1", "agent-b · v2", "(no agent) · (no version)", "inbound: agent-a"):
        assert label in texts, f"{label!r} not among the chart texts"

    metadata = report_metadata(result)
    assert metadata["path"].value == str(storage_for(tmp_path).layout.report_file(CALL_REPORT))
    assert metadata["days"].value == 3
    image = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", metadata["headline_chart"].value)
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.one_storage("charts from the same rows; test_the_report_has_every_chart_inline... reads a bucket")
def test_rendering_the_same_data_twice_gives_the_same_charts(tmp_path):
    store_three_days_and_two_snapshots(tmp_path)
    storage = storage_for(tmp_path)
    path = storage.layout.report_file(CALL_REPORT)

    materialize_report(tmp_path)
    first = re.findall(r"<svg.*?</svg>", storage.store.read_bytes(path).decode(), re.S)
    materialize_report(tmp_path)
    second = re.findall(r"<svg.*?</svg>", storage.store.read_bytes(path).decode(), re.S)

    # The timeline's open stretches end at "now", so compare the charts that do not depend on it.
    assert first[:4] == second[:4]


def test_with_no_calls_the_report_says_so_instead_of_failing(tmp_path):
    result = materialize_report(tmp_path)

    assert result.success
    html = storage_for(tmp_path).store.read_bytes(storage_for(tmp_path).layout.report_file(CALL_REPORT)).decode("utf-8")
    assert "No calls are stored yet" in html and "<svg" not in html
    assert "headline_chart" not in report_metadata(result)
    assert result.asset_materializations_for_node(CALL_REPORT)


def test_two_weeks_of_days_label_the_axis_without_running_into_each_other():
    import matplotlib

    from diga_assets.assets.report.charts import chart_daily_volume, figure_svg
    from diga_assets.assets.report.data import Names, ReportData

    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(14)]
    outcomes = pa.table({"day": days, "outcome": ["completed"] * 14, "calls": [100] * 14})
    empty = pa.table({})
    data = ReportData(days, outcomes, empty, empty, empty, empty, Names({}, {}), empty, empty, empty)

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, as the report renders it
        svg = figure_svg(chart_daily_volume(data))

    ticks = re.findall(r"<text[^>]*>(\d\d Nov)</text>", svg)
    assert 2 <= len(ticks) <= 8, f"{len(ticks)} day labels on one axis"
    assert set(ticks) <= {day.strftime("%d Nov") for day in days} and ticks == sorted(set(ticks))
    # Slanted, so a label wider than the space between two ticks still clears its neighbour.
    slanted = re.findall(r'<text[^>]*transform="[^"]*rotate\(-30[^"]*"[^>]*>\d\d Nov</text>', svg)
    assert len(slanted) == len(ticks)


@pytest.mark.one_storage(
    "the report's text from the views' rows; test_the_report_has_every_chart_inline... reads a bucket"
)
def test_the_report_names_agents_lists_end_reasons_and_compares_versions(tmp_path):
    storage = storage_for(tmp_path)
    day = DAYS[0]
    records = [
        call(
            f"c{i}",
            f"{day}T09:{i:02d}:00Z",
            end_reason=("sim_customer_hangup", "voicemail_left", "sim_transferred")[i % 3],
            agent_id="agent-a",
            version=("a-v1", "a-v2")[i % 2],
        )
        for i in range(30)
    ]
    write_raw_calls(storage, day, records)
    write_raw_agents(
        storage,
        day,
        [agent("agent-a", "Recepción", ("a-v1", 1, "primera"), ("a-v2", 2, None))],
        datetime(2026, 11, 4, 0, 10, tzinfo=UTC),
    )
    materialize_metrics(
        tmp_path, ["call_outcome_rates", "agent_version_outcomes", "call_end_reasons"], first=day, checks=False
    )

    materialize_report(tmp_path)

    html = storage.store.read_bytes(storage.layout.report_file(CALL_REPORT)).decode("utf-8")
    texts = set(re.findall(r"<text[^>]*>([^<]+)</text>", html))
    # Names where the agents snapshot gives them; v<number> for a version without a name.
    assert {"Recepción · primera", "Recepción · v2"} <= texts
    end_reasons = re.search(r'<section id="end-reasons">(.*?)</section>', html, re.S).group(1)
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", end_reasons, re.S)]
    assert ["completed", "sim_transferred", "10", "33.3%", "completed", "status default"] in cells
    assert ["completed", "voicemail_left", "10", "33.3%", "voicemail", "end reason"] in cells
    # Two of three finished calls carry a code the map does not name: far above 1%, said in words.
    warning = re.search(r'<p class="warning" id="unmapped-warning">(.*?)</p>', html, re.S)
    assert warning and "66.7%" in warning.group(1)
    versions = re.search(r'<section id="version-comparison">(.*?)</section>', html, re.S).group(1)
    assert "Recepción" in versions and "95% interval" in versions and "(first version)" in versions
    assert "vs primera: no clear difference" in versions


@pytest.mark.one_storage("a threshold on the views' rows; test_the_report_has_every_chart_inline... reads a bucket")
def test_the_report_says_nothing_of_unmapped_codes_below_one_percent(tmp_path):
    storage = storage_for(tmp_path)
    day = DAYS[0]
    records = [call(f"c{i}", f"{day}T09:{i % 60:02d}:{i // 60:02d}Z", end_reason=None) for i in range(200)]
    records.append(call("odd", f"{day}T10:00:00Z", end_reason="sim_error"))  # 1 of 201: under 1%
    write_raw_calls(storage, day, records)
    materialize_metrics(tmp_path, ["call_outcome_rates", "call_end_reasons"], first=day, checks=False)

    materialize_report(tmp_path)

    html = storage.store.read_bytes(storage.layout.report_file(CALL_REPORT)).decode("utf-8")
    assert 'id="end-reasons"' in html and "sim_error" in html
    assert 'id="unmapped-warning"' not in html
    # One day of calls is one day on the daily charts' axes, not the years of ticks that
    # autoscaling gives a single date.
    for chart in ("volume", "completion", "duration"):
        section = re.search(rf'<section id="{chart}".*?</section>', html, re.S).group(0)
        assert [t for t in re.findall(r"<text[^>]*>([^<]+)</text>", section) if t.endswith(" Nov")] == ["03 Nov"]


@pytest.mark.one_storage(
    "the page's wording; test_the_report_has_every_chart_inline_and_nothing_to_fetch reads a bucket"
)
def test_a_day_fetched_before_it_ended_is_labelled_so_far_as_of_its_last_fetch(tmp_path):
    storage = storage_for(tmp_path)
    write_raw_calls(storage, DAYS[0], [call("a", f"{DAYS[0]}T09:00:00Z")])
    # The last day as today's refresh left it: fetched at 10:15 UTC, 11:15 in Madrid.
    fetched = datetime(2026, 11, 4, 10, 15, tzinfo=UTC)
    write_raw_calls(storage, DAYS[1], [call("b", f"{DAYS[1]}T09:00:00Z")], fetched_at=fetched)
    graph = DigaGraph(settings_for(tmp_path / "data", "Europe/Madrid"))
    materialize_metrics(
        tmp_path, ["call_outcome_rates"], first=DAYS[0], last=DAYS[1], checks=False, timezone="Europe/Madrid"
    )

    dg.materialize([build_report_asset(graph)], resources={"storage": storage})

    html = storage.store.read_bytes(storage.layout.report_file(CALL_REPORT)).decode("utf-8")
    assert f"{DAYS[1]} so far, as of 11:15" in html
    assert f"{DAYS[0]} so far" not in html


@pytest.mark.one_storage(
    "the chart's legend; test_the_report_has_every_chart_inline_and_nothing_to_fetch reads a bucket"
)
def test_the_volume_chart_stacks_outcomes_not_statuses(tmp_path):
    storage = storage_for(tmp_path)
    # The live status model: every finished call is completed; the end reason says how it ended.
    endings = ("voicemail_left", "ivr_unreachable", "mailbox_unavailable", None)
    records = [call(f"c{i}", f"{DAYS[0]}T{9 + i:02d}:00:00Z", end_reason=endings[i % 4]) for i in range(8)]
    write_raw_calls(storage, DAYS[0], records)
    materialize_metrics(tmp_path, ["call_outcome_rates"], first=DAYS[0], checks=False)

    materialize_report(tmp_path)

    html = storage.store.read_bytes(storage.layout.report_file(CALL_REPORT)).decode("utf-8")
    volume = re.search(r'<section id="volume".*?</section>', html, re.S).group(0)
    legend = set(re.findall(r"<text[^>]*>([^<]+)</text>", volume))
    assert {"completed", "voicemail", "failed", "no_answer"} <= legend
    assert "Daily call volume by outcome" in html


@pytest.mark.one_storage("a table from the view's rows; test_the_report_has_every_chart_inline... reads a bucket")
def test_the_kpi_summary_sets_the_last_seven_days_beside_the_seven_before(tmp_path):
    storage = storage_for(tmp_path)
    keys = [f"2026-11-{day:02d}" for day in range(1, 15)]
    for n, key in enumerate(keys):
        later = n >= 7
        # Four calls a day, each 10 minutes from a contact of its own; in the later week half of
        # them are transferred and the first two overlap.
        records = []
        for i in range(4):
            record = call(
                f"{key}-{i}",
                f"{key}T{9 + i:02d}:00:00Z",
                status="transferred" if later and i % 2 else "completed",
                end_reason=None if later and i % 2 else "hangup",
            )
            record["end_time"] = f"{key}T{9 + i:02d}:10:00Z" if not (later and i == 0) else f"{key}T10:30:00Z"
            record["contact"] = {**record["contact"], "identifier": f"+3460000{n:02d}{i}"}
            records.append(record)
        write_raw_calls(storage, key, records)
    tariff = tmp_path / "tariff.csv"
    tariff.write_text("call_type,price_per_minute,price_per_call,currency,rounding\ninbound,0.10,0.01,EUR,minute\n")
    materialize_metrics(
        tmp_path,
        ["call_outcome_rates", *OPERATIONS_METRICS],
        first=keys[0],
        last=keys[-1],
        checks=False,
        tariff=tariff,
    )

    graph = DigaGraph(settings_for(tmp_path / "data", concurrency_limit=2))
    dg.materialize([build_report_asset(graph)], resources={"storage": storage})

    html = storage.store.read_bytes(storage.layout.report_file(CALL_REPORT)).decode("utf-8")
    section = re.search(r'<section id="kpis">(.*?)</section>', html, re.S).group(1)
    rows = {
        cells[0]: cells[1:]
        for cells in (
            [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)
        )
        if cells
    }
    assert rows["Calls"] == ["28", "28", "+0"]
    assert rows["Containment rate"] == ["50.0%", "100.0%", "-50.0 pt"]
    assert rows["Transfer rate"] == ["50.0%", "0.0%", "+50.0 pt"]
    assert rows["Answer rate (outbound)"] == ["n/a", "n/a", "n/a"], "no outbound calls"
    assert rows["Callers who called in the 7 days before"] == ["0.0%", "0.0%", "+0.0 pt"]
    assert rows["Peak concurrent calls"] == ["2", "1", "+1"]
    # 28 calls a week, each billed one minute (their duration is 60 s): 28 x (0.10 + 0.01).
    assert rows["Cost (EUR)"] == ["3.08", "3.08", "+0.00"]
    assert "Cost needs your tariff" not in section
    assert "Your plan's cap: 2 concurrent calls." in section
    assert section.index("Calls") < html.index('<section id="volume"'), "the summary opens the report"
    # On the load chart, the hours at the cap are outlined (one per weekday of the later week).
    load = re.search(r'<section id="load".*?</section>', html, re.S).group(0)
    assert load.count("stroke: #c62828") == 7

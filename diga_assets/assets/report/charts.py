"""The call report's charts and page: matplotlib figures rendered to inline SVG, in a Jinja page.

Drawing uses matplotlib's object API (``Figure``), never ``pyplot``: no GUI backend, no
current-figure state shared between runs; the report's style applies only while it draws
(``rc_context``). Kept apart from ``asset.py`` so only the report run imports matplotlib.
"""

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import matplotlib
import matplotlib.dates as mdates
import matplotlib.patches
import matplotlib.ticker
from matplotlib.figure import Figure

from diga_assets.analysis.outcome_map import OUTCOMES
from diga_assets.assets.report.data import ReportData

_TEMPLATES = Path(__file__).resolve().parent / "templates"
# Day labels an axis shows at most.
_MAX_DAY_LABELS = 8
# Above this share of the finished calls, end reasons the outcome map does not name are said in
# words: the rates may be off by that much.
UNMAPPED_WARNING_SHARE = 0.01

# One colour per outcome, the same in every chart; status colours come from the default cycle.
_OUTCOME_COLOURS = {
    "completed": "#2e7d32",
    "transferred": "#1565c0",
    "voicemail": "#8e24aa",
    "no_answer": "#f9a825",
    "failed": "#c62828",
    "unfinished": "#9e9e9e",
    "other": "#5d4037",
}
_STYLE = {
    # Identical SVG ids for identical input, so re-rendering the same data gives the same charts.
    "svg.hashsalt": "diga-call-report",
    # Text stays text (not glyph outlines): smaller, searchable, readable by screen readers.
    "svg.fonttype": "none",
    "font.family": "sans-serif",
}


# ------------------------------------------------------------------------------------ charts


def _figure(width: float = 9.0, height: float = 3.6) -> tuple[Figure, Any]:
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    return figure, axes


def _date_axis(axes: Any, days: Sequence[date] = ()) -> None:
    # Daily charts tick on whole days (an automatic locator ticks hours on a short range, and
    # every hour then reads as the same date), at most _MAX_DAY_LABELS of them so the labels
    # never run into each other beside a legend; the timeline spans months and picks its own.
    if days:
        # The axis spans the report's days and half a day either side, set rather than left to
        # autoscaling: a single day is a singular range, which matplotlib widens to four years
        # of daily ticks (seconds of drawing, and a chart of nothing).
        half_day = timedelta(hours=12)
        axes.set_xlim(datetime.combine(days[0], time()) - half_day, datetime.combine(days[-1], time()) + half_day)
        locator: mdates.DateLocator = mdates.DayLocator(interval=math.ceil(len(days) / _MAX_DAY_LABELS))
    else:
        locator = mdates.AutoDateLocator(maxticks=_MAX_DAY_LABELS)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    # Slanted, anchored at their right end under their tick: a label may be wider than the
    # space between ticks.
    axes.tick_params(axis="x", labelrotation=30)
    for label in axes.get_xticklabels():
        label.set_horizontalalignment("right")


def chart_daily_volume(data: ReportData) -> Figure:
    """Stacked bars: calls per day, by outcome (the outcome map's, in a fixed order and colour)."""
    figure, axes = _figure()
    days = data.days
    rows = data.daily_outcomes.to_pylist()
    present = {row["outcome"] for row in rows}
    outcomes = [o for o in _OUTCOME_COLOURS if o in present] + sorted(present - _OUTCOME_COLOURS.keys())
    bottom = [0] * len(days)
    index = {day: i for i, day in enumerate(days)}
    for outcome in outcomes:
        heights = [0] * len(days)
        for row in rows:
            if row["outcome"] == outcome:
                heights[index[row["day"]]] = row["calls"]
        axes.bar(days, heights, bottom=bottom, label=outcome, color=_OUTCOME_COLOURS.get(outcome), width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_title("Calls per day, by outcome")
    axes.set_ylabel("calls")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    _date_axis(axes, days)
    return figure


def chart_completion_rate(data: ReportData) -> Figure:
    """Line: each day's completion rate over the calls that ended."""
    figure, axes = _figure()
    rows = [r for r in data.daily_completion.to_pylist() if r["completion_rate"] is not None]
    axes.plot([r["day"] for r in rows], [r["completion_rate"] for r in rows], marker="o", color="#2e7d32")
    axes.set_ylim(0, 1)
    axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.set_title("Completion rate (completed / calls that ended)")
    _date_axis(axes, data.days)
    return figure


def chart_durations(data: ReportData) -> Figure:
    """Lines: each day's median and 90th percentile duration."""
    figure, axes = _figure()
    rows = [r for r in data.daily_durations.to_pylist() if r["median_duration_s"] is not None]
    days = [r["day"] for r in rows]
    axes.plot(days, [r["median_duration_s"] for r in rows], marker="o", label="median")
    axes.plot(days, [r["p90_duration_s"] for r in rows], marker="o", label="p90", linestyle="--")
    axes.set_ylim(bottom=0)
    axes.set_ylabel("seconds")
    axes.set_title("Call duration: median and 90th percentile")
    axes.legend(frameon=False)
    _date_axis(axes, data.days)
    return figure


def chart_version_outcomes(data: ReportData) -> Figure:
    """Horizontal stacked bars: how each agent version's calls ended (shares)."""
    rows = data.version_outcomes.to_pylist()
    versions = sorted({(r["agent_id"], r["agent_version_id"]) for r in rows})
    figure, axes = _figure(height=max(2.5, 0.45 * len(versions) + 1.2))
    axes.grid(axis="x", alpha=0.3)
    axes.grid(axis="y", visible=False)
    names = data.names
    labels = [f"{names.agent(agent)} · {names.version(version)}" for agent, version in versions]
    left = [0.0] * len(versions)
    for outcome in OUTCOMES:
        widths = [
            next(
                (r["share"] for r in rows if (r["agent_id"], r["agent_version_id"]) == v and r["outcome"] == outcome),
                0.0,
            )
            for v in versions
        ]
        if any(widths):
            axes.barh(labels, widths, left=left, label=outcome, color=_OUTCOME_COLOURS[outcome])
            left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.invert_yaxis()
    axes.set_title("Outcomes by agent version (share of the version's calls)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    return figure


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def chart_load(data: ReportData, concurrency_limit: int | None) -> Figure:
    """Two heatmaps over weekday x hour of day: mean calls started, and the highest peak of
    concurrent calls (hours at or above the plan's cap, when set, are outlined)."""
    figure = Figure(figsize=(9.0, 3.4), layout="constrained")
    started_axes, peak_axes = figure.subplots(1, 2, sharey=True)
    rows = data.load.to_pylist()
    for axes, column, title, colours in (
        (started_axes, "calls_started_avg", "Calls started per hour (mean)", "Blues"),
        (peak_axes, "peak_concurrent", "Peak concurrent calls (highest)", "Oranges"),
    ):
        grid = [[0.0] * 24 for _ in _WEEKDAYS]
        for row in rows:
            grid[row["weekday"] - 1][row["hour"]] = row[column]
        image = axes.imshow(grid, aspect="auto", cmap=colours, vmin=0, interpolation="nearest")
        figure.colorbar(image, ax=axes, shrink=0.8)
        axes.set_title(title, fontsize="medium")
        axes.set_xticks(range(0, 24, 3), [f"{hour:02d}" for hour in range(0, 24, 3)])
        axes.set_xlabel("hour")
    started_axes.set_yticks(range(7), _WEEKDAYS)
    if concurrency_limit is not None:
        for row in rows:
            if row["peak_concurrent"] >= concurrency_limit:
                peak_axes.add_patch(
                    matplotlib.patches.Rectangle(
                        (row["hour"] - 0.5, row["weekday"] - 1.5), 1, 1, fill=False, edgecolor="#c62828", linewidth=1.5
                    )
                )
    return figure


def chart_repeat_callers(data: ReportData) -> Figure:
    """Lines: each day's share of callers who had called within 24 hours and within 7 days before."""
    figure, axes = _figure()
    rows = [r for r in data.repeat_callers.to_pylist() if r["callers"]]
    days = [r["day"] for r in rows]
    axes.plot(days, [r["repeat_24h"] / r["callers"] for r in rows], marker="o", label="within 24 h")
    axes.plot(days, [r["repeat_7d"] / r["callers"] for r in rows], marker="o", linestyle="--", label="within 7 days")
    axes.set_ylim(0, 1)
    axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axes.set_title("Callers who had called before (share of the day's callers)")
    axes.legend(frameon=False)
    _date_axis(axes, data.days)
    return figure


def chart_phone_timeline(data: ReportData, now: datetime) -> Figure:
    """Gantt: each phone's stretches, coloured by the agent answering its inbound calls."""
    rows = data.timeline.to_pylist()
    phones = sorted({(r["number"] or r["phone_id"], r["phone_id"]) for r in rows})
    figure, axes = _figure(height=max(2.5, 0.4 * len(phones) + 1.2))
    axes.grid(axis="x", alpha=0.3)
    axes.grid(axis="y", visible=False)
    agents = sorted({r["inbound_agent_id"] for r in rows if r["inbound_agent_id"]})
    palette = matplotlib.colormaps["tab10"]
    colour = {agent: palette(i % 10) for i, agent in enumerate(agents)}
    for position, (_, phone_id) in enumerate(phones):
        for row in (r for r in rows if r["phone_id"] == phone_id):
            start = mdates.date2num(row["valid_from"])
            end = mdates.date2num(row["valid_to"] or now)
            assigned = row["inbound_agent_id"]
            axes.broken_barh(
                [(start, max(end - start, 0.02))],
                (position - 0.35, 0.7),
                facecolors=colour[assigned] if assigned else "#e0e0e0",
                edgecolors="white",
            )
    axes.set_yticks(range(len(phones)), [label for label, _ in phones], fontsize="small")
    axes.invert_yaxis()
    axes.xaxis_date()
    _date_axis(axes)
    handles = [matplotlib.patches.Patch(color=colour[a], label=f"inbound: {data.names.agent(a)}") for a in agents]
    handles.append(matplotlib.patches.Patch(color="#e0e0e0", label="no inbound agent"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
    axes.set_title("Phone assignments over time")
    return figure


def figure_svg(figure: Figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, so it embeds in HTML)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@dataclass(frozen=True)
class Chart:
    """One chart of the report: an anchor, a title, the inline SVG."""

    anchor: str
    title: str
    svg: str


def render_report(
    data: ReportData | None, *, generated_at: datetime, timezone: str, concurrency_limit: int | None = None
) -> tuple[str, bytes | None]:
    """The HTML page and the headline chart as PNG (None when there is nothing to draw); hours
    whose peak reaches ``concurrency_limit`` are marked on the load chart."""
    charts: list[Chart] = []
    headline_png = None
    summary: dict[str, Any] = {}
    if data is not None:
        with matplotlib.rc_context(_STYLE):
            charts, headline_png = _draw(data, generated_at, concurrency_limit)
        days = data.days
        totals = data.daily_completion.to_pylist()
        summary = {
            "first_day": days[0],
            "last_day": days[-1],
            "days": len(days),
            "calls": sum(r["total_calls"] for r in totals),
            "phones": len(set(data.timeline["phone_id"].to_pylist())),
            # Today's refresh: "2026-12-07 so far, as of 10:15" in the partition time zone.
            "partial": [
                f"{day} so far, as of {as_of.astimezone(ZoneInfo(timezone)):%H:%M}"
                for day, as_of in sorted(data.partial_days.items())
            ],
        }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"])
    )
    html = environment.get_template("call_report.html.j2").render(
        charts=charts,
        summary=summary,
        end_reasons=data.end_reasons.to_pylist() if data else [],
        unmapped_share=data.unmapped_share if data else 0.0,
        unmapped_warning_share=UNMAPPED_WARNING_SHARE,
        versions=_version_rows(data) if data else [],
        kpis=_kpi_rows(data) if data else [],
        priced=bool(data and any(row.get("currency") for row in data.kpi_summary)),
        concurrency_limit=concurrency_limit,
        conversations=_conversation_rows(data) if data else [],
        generated_at=generated_at,
        timezone=timezone,
    )
    return html, headline_png


def _version_rows(data: ReportData) -> list[dict[str, Any]]:
    """The version comparison with names, for the template."""
    names = data.names
    return [
        {
            **row,
            "agent": names.agent(row["agent_id"]),
            "version": names.version(row["agent_version_id"]),
            "previous": names.version(row["previous_version_id"]) if row["previous_version_id"] else None,
        }
        for row in data.version_comparison.to_pylist()
    ]


# The KPI summary's rows: label, column, and whether the figure is a rate (shown as a percentage).
_KPIS = (
    ("Calls", "calls", False),
    ("Containment rate", "containment_rate", True),
    ("Transfer rate", "transfer_rate", True),
    ("Answer rate (outbound)", "answer_rate", True),
    ("Callers who called in the 7 days before", "repeat_7d_share", True),
    ("Peak concurrent calls", "peak_concurrent", False),
)


def _kpi_rows(data: ReportData) -> list[dict[str, Any]]:
    """The KPI summary for the template: each figure for the last 7 days and the 7 before, with the
    change (in points for rates); None where a period has no value."""
    periods = {row["period"]: row for row in data.kpi_summary}
    if "this" not in periods:
        return []
    rows = []
    kpis = list(_KPIS)
    if currency := periods["this"].get("currency") or periods.get("previous", {}).get("currency"):
        kpis.append((f"Cost ({currency})", "cost", False))
    for label, column, is_rate in kpis:
        this = periods["this"].get(column)
        previous = periods.get("previous", {}).get(column)
        change = this - previous if this is not None and previous is not None else None
        rows.append(
            {
                "label": label,
                "this": _kpi_text(this, is_rate),
                "previous": _kpi_text(previous, is_rate),
                "change": None if change is None else _change_text(change, is_rate),
            }
        )
    return rows


def _change_text(change: float | Decimal, is_rate: bool) -> str:
    if isinstance(change, Decimal):
        return f"{change:+,.2f}"
    return f"{change * 100:+.1f} pt" if is_rate else f"{change:+,}"


def _kpi_text(value: float | Decimal | None, is_rate: bool) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:.1%}" if is_rate else f"{value:,}"


def _conversation_rows(data: ReportData) -> list[dict[str, Any]]:
    """What the transcripts say per agent, with names, for the template (none without transcripts)."""
    return [{**row, "agent": data.names.agent(row["agent_id"])} for row in data.conversations.to_pylist()]


def _draw(data: ReportData, generated_at: datetime, concurrency_limit: int | None) -> tuple[list[Chart], bytes]:
    completion = chart_completion_rate(data)
    figures = [
        ("volume", "Daily call volume by outcome", chart_daily_volume(data)),
        ("completion", "Completion rate over time", completion),
        ("duration", "Median and p90 duration over time", chart_durations(data)),
        ("versions", "Outcomes by agent version", chart_version_outcomes(data)),
    ]
    if data.load.num_rows:
        figures.append(("load", "Load by weekday and hour", chart_load(data, concurrency_limit)))
    if data.repeat_callers.num_rows:
        figures.append(("repeat-callers", "Repeat callers", chart_repeat_callers(data)))
    if data.timeline.num_rows:
        figures.append(("phones", "Phone assignments", chart_phone_timeline(data, generated_at)))
    charts = [Chart(anchor, title, figure_svg(figure)) for anchor, title, figure in figures]
    return charts, figure_png(completion)

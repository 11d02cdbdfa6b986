"""``simulate``: run the Diga API simulator in the foreground for demos and manual testing.

The lead adds this command to the ``diga-assets`` group; ``python -m diga_assets.simulator.cli``
runs it on its own. The API key is never printed, only where it came from.
"""

from __future__ import annotations

import signal
from datetime import datetime
from types import FrameType

import click

from diga_assets.api.client import is_loopback_host
from diga_assets.simulator.faults import FaultConfig
from diga_assets.simulator.server import RESOURCE_PATHS, DigaSimulator
from diga_assets.simulator.world import World

DEFAULT_API_KEY = "sim-test-key"
API_KEY_ENV = "DIGA_API_KEY"


def _loopback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not is_loopback_host(value):
        raise click.BadParameter(f"{value!r} is not a loopback address; the simulator only listens locally")
    return value


def _rate(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be within [0, 1]")
    return value


def _instant(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time (e.g. 2026-11-20T12:00:00Z)") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no offset; add Z or +HH:MM")
    return parsed


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (e.g. from a process manager or a test) stops as cleanly as Ctrl-C.
    raise KeyboardInterrupt


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, callback=_loopback, help="Loopback address.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the synthetic company.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(0, 3650), help="Days of call history.")
@click.option("--calls-per-day", default=200, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option(
    "--status-model",
    type=click.Choice(["seed", "current"]),
    default="current",
    show_default=True,
    help="'current' serves Diga's API as its live OpenAPI document describes it; 'seed' follows the "
    "published pages of /v1/call/ and /v1/phone/ (their statuses failed, transferred, no_answer).",
)
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0, 60_000))
@click.option("--rate-429", default=0.0, show_default=True, type=float, callback=_rate)
@click.option("--rate-5xx", default=0.0, show_default=True, type=float, callback=_rate)
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    default=DEFAULT_API_KEY,
    show_default=False,
    help=f"Bearer key clients must send (default: ${API_KEY_ENV}, else the built-in test key).",
)
@click.option(
    "--now",
    callback=_instant,
    help="The synthetic company's clock at start (ISO 8601 with offset; default: the current time). "
    "With --seed it makes the served data reproducible.",
)
@click.option("--end-date-exclusive", is_flag=True, help="Read end_* date filters as exclusive bounds.")
@click.option(
    "--deny",
    "denied",
    multiple=True,
    type=click.Choice(sorted(RESOURCE_PATHS)),
    help="Simulate a key without Read permission on this resource: its endpoints answer 403 (repeat for several).",
)
@click.pass_context
def simulate(
    ctx: click.Context,
    host: str,
    port: int,
    seed: int,
    days: int,
    calls_per_day: int,
    status_model: str,
    latency_ms: float,
    rate_429: float,
    rate_5xx: float,
    api_key: str,
    now: datetime | None,
    end_date_exclusive: bool,
    denied: tuple[str, ...],
) -> None:
    """Serve a synthetic Diga API on loopback until Ctrl-C."""
    if rate_429 + rate_5xx > 1.0:
        raise click.BadParameter("--rate-429 plus --rate-5xx must not exceed 1")
    source = ctx.get_parameter_source("api_key")
    if source == click.core.ParameterSource.ENVIRONMENT:
        key_origin = f"from ${API_KEY_ENV}"
    elif source == click.core.ParameterSource.COMMANDLINE:
        key_origin = "from --api-key"
    else:
        key_origin = f"the built-in default test key (set ${API_KEY_ENV} to change it)"
    world = World(
        seed=seed,
        now=now,
        days=days,
        calls_per_day=calls_per_day,
        status_model="current" if status_model == "current" else "seed",
    )
    faults = FaultConfig(seed=seed, rate_429=rate_429, rate_5xx=rate_5xx, latency_ms=latency_ms)
    simulator = DigaSimulator(
        world,
        api_key=api_key,
        host=host,
        port=port,
        faults=faults,
        end_date_inclusive=not end_date_exclusive,
        denied_resources=denied,
    )
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with simulator:
            # The ready lines are printed inside the try: a stop that arrives right after them
            # (a test or a process manager reacting to them) must still stop cleanly.
            try:
                click.echo(f"Diga simulator listening on {simulator.base_url}")
                click.echo(
                    f"  world: seed {seed}, {world.visible_call_count()} calls over {days} days, "
                    f"status model {status_model}, clock {world.state()['now']}"
                )
                click.echo(f"  API key: {key_origin}")
                if denied:
                    click.echo(f"  the key lacks Read permission on: {', '.join(sorted(set(denied)))} (answered 403)")
                click.echo(f"export DIGA_API_BASE_URL={simulator.base_url}")
                click.echo("Press Ctrl-C to stop.")
                simulator.wait()
            except KeyboardInterrupt:
                click.echo("Stopping the simulator...")
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("Simulator stopped.")


if __name__ == "__main__":
    simulate(prog_name="simulate")

"""``diga-assets``: the project's command line (demo, simulator)."""

from __future__ import annotations

import warnings

import click
import dagster as dg

from diga_assets.simulator.cli import simulate


@click.group()
def main() -> None:
    """Dagster assets for the Diga voice-agent API."""
    # The project opts into BackfillPolicy and partitioned checks on purpose; Dagster's notice
    # that they are beta/preview would open every command's output with a screenful of warnings.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


main.add_command(simulate)


@main.command()
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 120), help="Days of calls to backfill.")
def demo(days: int) -> None:
    """Run the whole pipeline against a simulator on loopback, with no API key."""
    from diga_assets.demo import run_demo

    run_demo(days)


if __name__ == "__main__":
    main()

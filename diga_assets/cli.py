"""``diga-assets``: the project's command line (demo, simulator)."""

from __future__ import annotations

import warnings
from pathlib import Path

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


_PORT = click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="UI port.")
# Tests keep their runs apart from the project's; users have no reason to change it.
_DAGSTER_HOME = click.option("--dagster-home", type=click.Path(file_okay=False, path_type=Path), hidden=True)


@main.command()
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 120), help="Days of calls to backfill.")
@click.option("--ui", is_flag=True, help="Then run the Dagster UI against a simulator until Ctrl-C.")
@_PORT
def demo(days: int, ui: bool, port: int) -> None:
    """Run the whole pipeline against a simulator on loopback, with no API key."""
    from diga_assets.demo import run_demo, run_ui

    run_demo(days)
    if ui:
        raise SystemExit(run_ui(port=port, days=days))


@main.command()
@_PORT
@_DAGSTER_HOME
def ui(port: int, dagster_home: Path | None) -> None:
    """Run the Diga API simulator and `dagster dev` together (on 127.0.0.1) until Ctrl-C."""
    from diga_assets.demo import PROJECT_DAGSTER_HOME, run_ui

    raise SystemExit(run_ui(port=port, dagster_home=dagster_home or PROJECT_DAGSTER_HOME))


if __name__ == "__main__":
    main()

"""``diga-assets``: the project's command line (demo, simulator)."""

from __future__ import annotations

import click

from diga_assets.simulator.cli import simulate


@click.group()
def main() -> None:
    """Dagster assets for the Diga voice-agent API."""


main.add_command(simulate)


@main.command()
def demo() -> None:
    """Run the whole pipeline against a simulator on loopback, with no API key."""
    from diga_assets.demo import run_demo

    run_demo()


if __name__ == "__main__":
    main()

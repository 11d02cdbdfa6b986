"""``diga-assets``: the project's command line (demo, ui, query, reconcile, erase, simulator)."""

from __future__ import annotations

import csv
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from diga_assets.simulator.cli import simulate


@click.group()
def main() -> None:
    """Dagster assets for the Diga voice-agent API."""


def _quiet_dagster() -> None:
    """For the commands that load the code location: the project opts into BackfillPolicy and
    partitioned checks on purpose, and Dagster's notice that they are beta/preview would open
    the command's output with a screenful of warnings. (``query`` never imports Dagster.)"""
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


main.add_command(simulate)


_PORT = click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="UI port.")
# Tests keep their runs apart from the project's; users have no reason to change it.
_DAGSTER_HOME = click.option("--dagster-home", type=click.Path(file_okay=False, path_type=Path), hidden=True)


@main.command()
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 120), help="Days of calls to backfill.")
@click.option("--ui", is_flag=True, help="Then run the Dagster UI against a simulator until Ctrl-C.")
@click.option("--s3", is_flag=True, help="Store the data in a bucket of an S3 server on loopback (moto), not data/.")
@_PORT
def demo(days: int, ui: bool, s3: bool, port: int) -> None:
    """Run the whole pipeline against a simulator on loopback, with no API key."""
    _quiet_dagster()
    from diga_assets.demo import DemoError, run_demo, run_ui

    try:
        run_demo(days, s3=s3)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    if ui:
        raise SystemExit(run_ui(port=port, days=days))


@main.command()
@_PORT
@_DAGSTER_HOME
def ui(port: int, dagster_home: Path | None) -> None:
    """Run the Diga API simulator and `dagster dev` together (on 127.0.0.1) until Ctrl-C."""
    _quiet_dagster()
    from diga_assets.demo import PROJECT_DAGSTER_HOME, run_ui

    raise SystemExit(run_ui(port=port, dagster_home=dagster_home or PROJECT_DAGSTER_HOME))


@main.command()
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day to audit (YYYY-MM-DD).")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day to audit (default: yesterday).")
@click.option("--full", is_flag=True, help="Fetch every stored day of the range again, changed or not.")
@_DAGSTER_HOME
def reconcile(first: Any, last: Any, full: bool, dagster_home: Path | None) -> None:
    """Compare the stored days of calls with the API (one request a day) and fetch again, with
    their curated days and metrics, exactly the days that changed; print a line per day.

    Without --from, the last DIGA_AUDIT_DAYS days up to yesterday. A count finds deleted calls,
    calls added late and calls unfinished when fetched; --full also finds calls edited in place.
    The runs are recorded in DAGSTER_HOME's instance (unset: the one `diga-assets ui` shows).
    """
    _quiet_dagster()
    import dagster as dg

    from diga_assets.demo import PROJECT_DAGSTER_HOME
    from diga_assets.reconcile import ReconcileError
    from diga_assets.reconcile import reconcile as run_reconcile
    from diga_assets.settings import Settings, SettingsError

    # Where `dagster` commands record runs (DAGSTER_HOME), else where `diga-assets ui` shows them.
    home = dagster_home or Path(os.environ.get("DAGSTER_HOME") or PROJECT_DAGSTER_HOME)
    home.mkdir(parents=True, exist_ok=True)
    try:
        settings = Settings.from_env()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run_reconcile(
                settings,
                first=first.date() if first else None,
                last=last.date() if last else None,
                full=full,
                instance=instance,
                echo=click.echo,
            )
    except (ReconcileError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--contact-identifier", "identifiers", multiple=True, help="A caller's number or web id (repeatable).")
@click.option("--contact-id", "contact_ids", multiple=True, help="A caller's contact id, a UUID (repeatable).")
@click.option(
    "--contact-identifier-file",
    type=click.File(),
    help="A file of contact identifiers, one per line.",
)
@click.option("--contact-id-file", type=click.File(), help="A file of contact ids, one per line.")
@_DAGSTER_HOME
def erase(
    identifiers: tuple[str, ...],
    contact_ids: tuple[str, ...],
    contact_identifier_file: Any,
    contact_id_file: Any,
    dagster_home: Path | None,
) -> None:
    """Remove callers from every stored file (raw calls, curated days, their transcripts), list
    them so no later fetch stores them again, and compute the touched days' metrics and the
    report again. Needs DIGA_CONTACT_HASH_KEY: the list holds HMACs, never the values.

    Prints the days touched and the calls removed; the values themselves are never printed.
    """
    _quiet_dagster()
    import dagster as dg

    from diga_assets.demo import PROJECT_DAGSTER_HOME
    from diga_assets.erasure import ErasureError
    from diga_assets.erasure import erase as run_erase
    from diga_assets.settings import Settings, SettingsError

    identifiers += tuple(contact_identifier_file.read().splitlines()) if contact_identifier_file else ()
    contact_ids += tuple(contact_id_file.read().splitlines()) if contact_id_file else ()
    home = dagster_home or Path(os.environ.get("DAGSTER_HOME") or PROJECT_DAGSTER_HOME)
    home.mkdir(parents=True, exist_ok=True)
    try:
        settings = Settings.from_env()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run_erase(settings, identifiers=identifiers, contact_ids=contact_ids, instance=instance, echo=click.echo)
    except (ErasureError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("sql")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="How to print the result.",
)
@click.option("--max-rows", default=1000, show_default=True, type=click.IntRange(1), help="Rows a table shows at most.")
def query(sql: str, output_format: str, max_rows: int) -> None:
    """Run SQL over the project's views (calls, phones, agents, one per metric) and print the
    result; reads DIGA_DATA_DIR (a local folder or s3://bucket/prefix) like the pipeline does."""
    import duckdb

    from diga_assets.analysis.session import connect

    try:
        with connect() as con:
            relation = con.sql(sql)
            if relation is None:  # a statement without a result, such as SET
                return
            _print_relation(relation, output_format, max_rows)
    except (duckdb.Error, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _print_relation(relation: Any, output_format: str, max_rows: int) -> None:
    if output_format == "table":
        relation.show(max_rows=max_rows, max_width=10_000)
        return
    columns = relation.columns
    rows = relation.fetchall()
    if output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        click.echo(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str, indent=2))


if __name__ == "__main__":
    main()

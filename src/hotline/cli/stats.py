"""`hotline stats …`: maintenance of the interval statistics."""

from __future__ import annotations

import datetime as dt

import typer

from hotline.cli.context import runtime
from hotline.core.context import system_actor
from hotline.domains.stats.actions import rebuild as rebuild_rows

app = typer.Typer(no_args_is_help=True)


@app.command()
def rebuild(
    since: str = typer.Option(
        None,
        "--since",
        help="First day (YYYY-MM-DD, the center's calendar) to recompute; default: everything.",
    ),
) -> None:
    """Recompute the interval rows from the contact history and replace them, in one
    transaction (live writes wait for it). Safe while the server runs."""
    start: dt.datetime | None = None
    with runtime() as rt:
        if since is not None:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError:
                typer.secho("error: --since must be a date like 2026-12-01", fg="red", err=True)
                raise typer.Exit(2) from None
            zone = rt.db.stats_config.zone
            start = dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(dt.UTC)
        with rt.db.transaction(actor=system_actor("stats-rebuild")) as tx:
            rows = rebuild_rows(tx, since=start)
    typer.echo(f"rebuilt {rows} interval rows" + (f" since {since}" if since else ""))

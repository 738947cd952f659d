"""`hotline staff`: agents needed per interval (Erlang C, or Erlang A with --patience)."""

from __future__ import annotations

import typer

from hotline.core.errors import HotlineError
from hotline.domains.workforce.queries import staffing_plan


def staff(
    calls: list[float] = typer.Argument(..., help="Calls per interval, one number each."),
    interval: int = typer.Option(30, help="Interval length in minutes."),
    aht: float = typer.Option(180.0, help="Average handle time in seconds."),
    sl: str = typer.Option("80/20", help="Service-level target as PERCENT/SECONDS."),
    patience: float = typer.Option(None, help="Mean caller patience in seconds (Erlang A)."),
    max_occupancy: float = typer.Option(None, help="Occupancy cap in percent."),
) -> None:
    """Print required agents and expected KPIs, e.g. `hotline staff 100 --aht 180 --sl 80/20`."""
    try:
        percent, seconds = (float(x) for x in sl.split("/", 1))
    except ValueError as exc:
        raise typer.BadParameter("use PERCENT/SECONDS, e.g. 80/20", param_hint="--sl") from exc
    try:
        rows = staffing_plan(
            calls,
            interval_seconds=interval * 60,
            aht_seconds=aht,
            sl_seconds=seconds,
            sl_percent=percent,
            patience_seconds=patience,
            max_occupancy_percent=max_occupancy,
        )
    except HotlineError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    model = "Erlang A" if patience else "Erlang C"
    typer.echo(f"{model}, {interval}-minute intervals, AHT {aht:g} s, target {sl}")
    header = (
        f"{'#':>3} {'calls':>8} {'agents':>6} {'Erl':>7} {'P(wait)':>8} {'SL':>7} "
        f"{'ASA s':>7} {'occ':>6}" + (f" {'aband':>6}" if patience else "")
    )
    typer.echo(header)
    for i, r in enumerate(rows, 1):
        line = (
            f"{i:>3} {r.calls:>8g} {r.agents:>6} {r.load_erlangs:>7.2f} {r.p_wait:>8.4f} "
            f"{r.service_level:>7.2%} {r.asa_seconds:>7.1f} {r.occupancy:>6.1%}"
        )
        if r.p_abandon is not None:
            line += f" {r.p_abandon:>6.2%}"
        typer.echo(line)

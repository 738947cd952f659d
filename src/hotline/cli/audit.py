"""`hotline audit …`: verify the hash chain and write signed checkpoints."""

from __future__ import annotations

import time

import typer

from hotline.cli.context import load_settings
from hotline.core.clock import SystemClock
from hotline.infra.audit.checkpoint import checkpoint_file, verify_database, write_checkpoint
from hotline.infra.db.engine import make_engine

app = typer.Typer(no_args_is_help=True)


@app.command()
def verify() -> None:
    """Check every audit row against the hash chain and the signed checkpoints.

    Exits 1 and names the first bad row when a row was altered, deleted or inserted, or the
    tail was cut.
    """
    settings = load_settings()
    # A plain engine, not the runtime: verifying must not create keys or write anything.
    engine = make_engine(settings)
    try:
        started = time.perf_counter()
        result = verify_database(engine, settings)
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    summary = (
        f"rows checked: {result.rows_checked}, checkpoints checked: "
        f"{result.checkpoints_checked}, elapsed: {elapsed:.2f} s"
    )
    if result.failure is not None:
        failure = result.failure
        where = f"seq {failure.seq}" if failure.seq is not None else "checkpoint file"
        typer.secho(
            f"audit log verification FAILED at {where}: {failure.message}",
            fg=typer.colors.RED,
            err=True,
        )
        typer.echo(f"first bad seq: {failure.seq if failure.seq is not None else '-'}")
        typer.echo(f"reason: {failure.problem} ({failure.key})")
        typer.echo(summary)
        raise typer.Exit(1)
    typer.echo(f"audit log intact up to seq {result.last_seq}")
    typer.echo(summary)


@app.command()
def checkpoint() -> None:
    """Sign the current tail of the audit chain (table + external checkpoint file)."""
    settings = load_settings()
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            cp = write_checkpoint(conn, settings, clock=SystemClock())
    finally:
        engine.dispose()
    if cp is None:
        typer.echo("nothing to sign: the audit log is empty or its tail already has a checkpoint")
        return
    typer.echo(
        f"checkpoint written: seq {cp.seq}, hash {cp.hash}, key {cp.key_id}, "
        f"also appended to {checkpoint_file(settings)}"
    )

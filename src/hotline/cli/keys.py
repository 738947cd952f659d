"""`hotline keys …`: rotate master and data keys without downtime."""

from __future__ import annotations

import typer

from hotline.cli.context import load_settings, runtime
from hotline.infra.crypto import rotation
from hotline.infra.crypto.envelope import DecryptionError

app = typer.Typer(no_args_is_help=True)


@app.command()
def rotate(
    data: bool = typer.Option(
        False,
        "--data",
        help="Also make a new data key and re-encrypt every encrypted value with it.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Finish an interrupted --data rotation with the current data key.",
    ),
    batch_size: int = typer.Option(
        rotation.DEFAULT_BATCH, min=1, max=10_000, help="Rows per re-encryption transaction."
    ),
    grace_seconds: float = typer.Option(
        rotation.DEFAULT_GRACE_SECONDS,
        min=0,
        help="Time running servers get to switch to the new data key before old data keys "
        "are deleted (0 when no server is running).",
    ),
) -> None:
    """Rotate the master key (re-wrapping every data key); with --data, the data key too.

    The server keeps running: the re-wrap is one short transaction and re-encryption goes in
    small batches. An interrupted rotation can simply be run again.
    """
    settings = load_settings()
    key_file = settings.resolved_master_key_file
    if not key_file.exists():
        typer.secho(
            f"error: no master key file at {key_file}; hotline creates it at first start "
            "(or set HOTLINE_MASTER_KEY_FILE to where it is)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)

    def on_batch(table: str, count: int) -> None:
        typer.echo(f"  {table}: {count} value(s) re-encrypted")

    try:
        with runtime() as rt:
            report = rotation.rotate(
                rt.db,
                key_file,
                data=data,
                resume=resume,
                batch_size=batch_size,
                grace_seconds=grace_seconds,
                on_batch=on_batch,
                say=typer.echo,
            )
    except DecryptionError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc

    if report.data_key_id:
        total = sum(report.reencrypted.values())
        typer.echo(f"data key: {report.data_key_id} ({total} value(s) re-encrypted)")
        for name, count in sorted(report.reencrypted.items()):
            typer.echo(f"  {name}: {count}")
    if report.deleted_data_keys:
        typer.echo(f"deleted old data key(s): {', '.join(report.deleted_data_keys)}")
    if report.retained_data_keys:
        typer.echo(
            "kept retired data key(s) still in use or within the grace period: "
            + ", ".join(report.retained_data_keys)
        )

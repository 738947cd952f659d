"""`hotline serve` and `hotline demo`."""

from __future__ import annotations

import os
from pathlib import Path

import typer
import uvicorn

from hotline.api.app import create_app
from hotline.cli.context import load_settings
from hotline.infra import demo as demo_data
from hotline.infra.runtime import build_runtime


def serve(
    host: str = typer.Option(None, help="Address to listen on (default from settings)."),
    port: int = typer.Option(None, help="Port (default 8266)."),
) -> None:
    """Migrate the database if needed, then serve the API and web UI."""
    settings = load_settings()
    if host:
        settings = settings.model_copy(update={"host": host})
    if port:
        settings = settings.model_copy(update={"port": port})
    rt = build_runtime(settings)
    typer.echo(f"hotline on {settings.public_url or f'http://{settings.host}:{settings.port}/'}")
    uvicorn.run(
        create_app(settings, runtime=rt), host=settings.host, port=settings.port, log_level="info"
    )


def demo(
    port: int = typer.Option(8266, help="Port to serve on."),
    reset: bool = typer.Option(False, help="Delete the demo database first."),
) -> None:
    """Start hotline on a SQLite file under ./var/demo with demo data; prints the logins."""
    var = Path(os.environ.get("HOTLINE_VAR_DIR", "./var/demo"))
    db_file = var / "hotline.db"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    settings = load_settings().model_copy(
        update={"database_url": f"sqlite:///{db_file}", "var_dir": var, "port": port}
    )
    rt = build_runtime(settings)
    users = demo_data.seed(rt)
    url = f"http://{settings.host}:{settings.port}/"
    typer.echo("")
    typer.secho(f"  hotline demo → {url}", bold=True)
    typer.echo(f"  database: {db_file}")
    typer.echo("  users (password for all: " + demo_data.DEMO_PASSWORD + "):")
    for u in users:
        mfa = (
            "  (sets up 2-factor at first sign-in)" if u.role in settings.mfa_required_roles else ""
        )
        typer.echo(f"    {u.username:<10} {u.role}{mfa}")
    typer.echo("")
    uvicorn.run(
        create_app(settings, runtime=rt),
        host=settings.host,
        port=settings.port,
        log_level="warning",
    )

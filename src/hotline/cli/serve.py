"""`hotline serve` and `hotline demo`."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import structlog
import typer
import uvicorn

from hotline.api.app import create_app
from hotline.cli.context import load_settings
from hotline.cli.load import demo_plan
from hotline.domains.identity.model import DISPLAY_ROLE
from hotline.infra import demo as demo_data
from hotline.infra.runtime import build_runtime
from hotline.load.driver import run_sync

log = structlog.get_logger(__name__)


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


def _start_demo_load(
    url: str, users: demo_data.SimUsers, *, rate: float, abort: threading.Event
) -> None:
    """The load driver on a daemon thread, against this very server once it answers."""

    def run() -> None:
        try:
            run_sync(demo_plan(url, users, rate=rate), abort=abort)
        except asyncio.CancelledError:
            pass  # the server is shutting down
        except Exception:
            log.exception("demo load stopped")

    threading.Thread(target=run, name="demo-load", daemon=True).start()


class _DemoServer(uvicorn.Server):
    """Stops the simulated agents first on Ctrl-C, so their event streams do not hold up the
    shutdown."""

    def __init__(self, config: uvicorn.Config, abort: threading.Event) -> None:
        super().__init__(config)
        self.abort = abort

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.abort.set()
        super().handle_exit(sig, frame)


def demo(
    port: int = typer.Option(8266, help="Port to serve on."),
    reset: bool = typer.Option(False, help="Delete the demo database first."),
    load: bool = typer.Option(
        True, "--load/--no-load", help="Run simulated callers and agents (load mode)."
    ),
    sim_agents: int = typer.Option(20, min=1, max=500, help="Simulated agents (with --load)."),
    rate: float = typer.Option(0.6, min=0.0, help="Simulated contacts per second (with --load)."),
) -> None:
    """Start hotline on a SQLite file under ./var/demo with demo data; prints the logins.
    Simulated callers and agents keep the wallboard moving unless --no-load."""
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
        if u.role == DISPLAY_ROLE:
            mfa = "  (wall screen: the wallboard in TV mode, never signed out for inactivity)"
        typer.echo(f"    {u.username:<10} {u.role}{mfa}")
    abort = threading.Event()
    if load:
        sim = demo_data.seed_simulated(rt, agents=sim_agents)
        _start_demo_load(url, sim, rate=rate, abort=abort)
        typer.echo(
            f"  simulated traffic: {len(sim.agents)} agents ({sim.agents[0]}…{sim.agents[-1]}), "
            f"about {rate * 60:g} contacts a minute (--no-load to switch off)"
        )
        typer.echo(
            "  agent1, agent2 and agent3 are kept free: sign in as one of them, log in at a "
            "seat and go ready to receive contacts among the simulated ones"
        )
    typer.echo("")
    config = uvicorn.Config(
        create_app(settings, runtime=rt),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # open event streams (browsers') would hold the shutdown up
        timeout_graceful_shutdown=2,
    )
    _DemoServer(config, abort).run()

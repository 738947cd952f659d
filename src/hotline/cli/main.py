"""The `hotline` command. Thin: parse arguments, build the runtime, call an action, print."""

from __future__ import annotations

import typer

from hotline.cli import audit, db, keys, serve, simulate, staff, stats, user
from hotline.cli import load as load_command

app = typer.Typer(
    name="hotline",
    help="hotline — contact center with built-in safe operations (呼叫中心 + 安全运营).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve", help="Run hotline (API, web UI, routing engine, job worker).")(serve.serve)
app.command("demo", help="Run hotline on SQLite with demo data and simulated traffic.")(serve.demo)
app.command(
    "simulate", help="Simulate traffic through the routing engine (KPIs with 95 % CIs over seeds)."
)(simulate.simulate)
app.command("staff", help="Agents needed per interval (Erlang C / Erlang A).")(staff.staff)
app.command("load", help="Drive a running hotline with simulated agents and callers over HTTP.")(
    load_command.load
)
app.add_typer(db.app, name="db", help="Database schema: upgrade, check, downgrade.")
app.add_typer(user.app, name="user", help="User accounts: create, disable, grant roles.")
app.add_typer(audit.app, name="audit", help="The tamper-evident audit log: verify, checkpoint.")
app.add_typer(keys.app, name="keys", help="Encryption keys: rotate the master and data keys.")
app.add_typer(stats.app, name="stats", help="Interval statistics: rebuild from contact history.")


if __name__ == "__main__":
    app()

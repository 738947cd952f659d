"""`hotline db …`: schema migrations."""

from __future__ import annotations

import typer

from hotline.cli.context import load_settings
from hotline.infra.db import migrate
from hotline.infra.db.engine import make_engine

app = typer.Typer(no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    engine = make_engine(load_settings())
    migrate.upgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Revert migrations down to REVISION."""
    engine = make_engine(load_settings())
    migrate.downgrade(engine, revision)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")


@app.command()
def check() -> None:
    """Exit 1 unless the database is at the newest revision and matches the code's schema."""
    engine = make_engine(load_settings())
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current != head:
        typer.secho(
            f"database at {current}, code expects {head}: run `hotline db upgrade`",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    diffs = migrate.schema_differences(engine)
    if diffs:
        for d in diffs:
            typer.secho(f"schema drift: {d}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"database at {current}; schema matches the code")

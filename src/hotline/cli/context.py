"""What every CLI command shares: settings from the environment, the runtime, error output."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from hotline.core.errors import HotlineError
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings


def load_settings() -> Settings:
    return Settings()


@contextlib.contextmanager
def runtime(*, upgrade: bool = False) -> Iterator[Runtime]:
    """Open the configured database; domain errors become a message and exit code 1."""
    rt = build_runtime(load_settings(), upgrade=upgrade)
    try:
        yield rt
    except HotlineError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    finally:
        rt.close()

"""What every CLI command shares: settings from the environment, the runtime, error output."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import structlog
import typer

from hotline.core.errors import HotlineError
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings


def load_settings() -> Settings:
    """The settings from the environment; also sets the log level they name (the CLI is the
    entry point: library code never configures logging)."""
    settings = Settings()
    level = logging.getLevelName(settings.log_level.upper())
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(
            level if isinstance(level, int) else logging.INFO
        )
    )
    return settings


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

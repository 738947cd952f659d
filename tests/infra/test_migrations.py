"""Migrations: every revision goes down and up again, and the result matches schema.py —
on whichever database the suite runs (SQLite or PostgreSQL)."""

from __future__ import annotations

from hotline.infra.db import migrate
from hotline.infra.db.engine import make_engine
from hotline.settings import Settings


def test_round_trip_matches_schema(database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url))
    try:
        head = migrate.head_revision(engine)
        assert migrate.current_revision(engine) == head
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == head
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()

"""Make the audit log append-only at the database level (R-E2).

UPDATE and DELETE (and TRUNCATE on PostgreSQL) on `audit_log` and `audit_checkpoints` raise an
error. This stops accidents and application bugs, and makes tampering a deliberate act: someone
who can drop a trigger can still edit rows, which the hash chain and the signed checkpoints then
expose (`hotline audit verify`).

SQLite drops a table's triggers when batch mode rebuilds it: a later migration that alters
either table in batch mode must create these triggers again.

Revision ID: 0002_audit_append_only
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002_audit_append_only"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

TABLES = ("audit_log", "audit_checkpoints")
PG_FUNCTION = "hotline_audit_append_only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table in TABLES:
            # Statement level: also fires for TRUNCATE, which skips row triggers.
            op.execute(
                f"CREATE TRIGGER {table}_append_only"
                f" BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
            )
        return
    for table in TABLES:
        for event in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event} BEFORE {event.upper()} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
        return
    for table in TABLES:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")

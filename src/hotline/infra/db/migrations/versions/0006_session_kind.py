"""Sessions record their kind: interactive (a person) or display (a wall screen, ADR 0009).

Revision ID: 0006_session_kind
Revises: 0005_business_calendars
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_session_kind"
down_revision = "0005_business_calendars"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every session before this revision was a person's: the default says so.
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="interactive")
        )


def downgrade() -> None:
    # Display sessions would become interactive ones (idle timeout): end them instead.
    op.execute(
        sa.text(
            "UPDATE sessions SET ended_at = CURRENT_TIMESTAMP, end_reason = 'downgrade' "
            "WHERE kind = 'display' AND ended_at IS NULL"
        )
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("kind")

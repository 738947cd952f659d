"""Create the statistics tables: interval rows (`interval_stats`) and the live rows last
published on the event stream (`live_stats`). ADR 0008.

Revision ID: 0004_interval_statistics
Revises: 0003_routing_contacts
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_interval_statistics"
down_revision = "0003_routing_contacts"
branch_labels = None
depends_on = None

COUNT_COLUMNS = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "abandoned_short",
    "overflowed",
    "transferred",
    "callbacks",
    "wait_ms",
    "wait_max_ms",
    "handled",
    "handle_ms",
    "wrap_up_ms",
    "abandoned_ivr",
    "closed",
)


def upgrade() -> None:
    op.create_table(
        "interval_stats",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)
            for name in COUNT_COLUMNS
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "interval_start", name=op.f("pk_interval_stats")),
    )
    op.create_index(
        "ix_interval_stats_kind_interval_start",
        "interval_stats",
        ["kind", "interval_start"],
    )
    op.create_table(
        "live_stats",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_live_stats")),
    )


def downgrade() -> None:
    op.drop_table("live_stats")
    op.drop_index("ix_interval_stats_kind_interval_start", table_name="interval_stats")
    op.drop_table("interval_stats")

"""Business calendars (营业时间) and an optional calendar per entry point.

Revision ID: 0005_business_calendars
Revises: 0004_interval_statistics
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_business_calendars"
down_revision = "0004_interval_statistics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("weekly", sa.JSON(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("code", name=op.f("uq_business_calendars_code")),
    )
    with op.batch_alter_table("entry_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_entry_points_calendar_id"), ["calendar_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_entry_points_calendar_id_business_calendars"),
            "business_calendars",
            ["calendar_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("entry_points", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_entry_points_calendar_id_business_calendars"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_entry_points_calendar_id"))
        batch_op.drop_column("calendar_id")
    op.drop_table("business_calendars")

"""Callbacks an agent schedules: the callback contact links to the contact it calls back, with
the time it is due (None: as soon as possible) and a note for whoever calls back.

Revision ID: 0007_contact_callbacks
Revises: 0006_session_kind
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_contact_callbacks"
down_revision = "0006_session_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_of", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("callback_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("callback_note", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_contacts_callback_of"), ["callback_of"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_contacts_callback_of_contacts"), "contacts", ["callback_of"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_contacts_callback_of_contacts"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_contacts_callback_of"))
        batch_op.drop_column("callback_note")
        batch_op.drop_column("callback_due_at")
        batch_op.drop_column("callback_of")

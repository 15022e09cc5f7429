"""The sender claims outbox rows in batches, and keeps each platform's pacing in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.create_table(
        "send_pace",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("free_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_send_pace")),
    )


def downgrade() -> None:
    op.drop_table("send_pace")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("claimed_until")

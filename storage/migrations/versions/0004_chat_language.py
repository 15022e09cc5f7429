"""Each group chat has its own language: chats bound before keep their unit's

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_binding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), nullable=True))
    op.execute(
        "UPDATE chat_binding SET locale = "
        "(SELECT unit.locale FROM unit WHERE unit.id = chat_binding.unit_id)"
    )
    with op.batch_alter_table("chat_binding", schema=None) as batch_op:
        batch_op.alter_column("locale", existing_type=sa.String(length=8), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_binding", schema=None) as batch_op:
        batch_op.drop_column("locale")

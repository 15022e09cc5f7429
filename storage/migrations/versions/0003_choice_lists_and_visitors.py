"""Long choice lists kept for a platform to search; the language a visitor chose before joining

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:19:45.757708
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "choice_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_choice_list")),
        sa.UniqueConstraint("token", name=op.f("uq_choice_list_token")),
    )
    with op.batch_alter_table("choice_list", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_choice_list_created_at"), ["created_at"], unique=False)

    op.create_table(
        "visitor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitor")),
        sa.UniqueConstraint(
            "platform",
            "workspace",
            "external_id",
            name=op.f("uq_visitor_platform_workspace_external_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("visitor")
    with op.batch_alter_table("choice_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_choice_list_created_at"))

    op.drop_table("choice_list")

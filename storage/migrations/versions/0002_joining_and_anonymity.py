"""Joining by invitation or by a supervisor's approval; anonymous observations keep no
observer; outbox rows say whether they go to a private chat

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:32:19.167347
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "join_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("platform_locale", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by_member_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_member_id"],
            ["member.id"],
            name=op.f("fk_join_request_decided_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_join_request_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_join_request_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_request")),
    )
    with op.batch_alter_table("join_request", schema=None) as batch_op:
        batch_op.create_index("ix_join_request_unit_status", ["unit_id", "status"], unique=False)

    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.alter_column("observer_member_id", existing_type=sa.INTEGER(), nullable=True)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("joining", sa.String(length=16), nullable=False, server_default="invitation")
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("private")

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("joining")

    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.alter_column("observer_member_id", existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table("join_request", schema=None) as batch_op:
        batch_op.drop_index("ix_join_request_unit_status")

    op.drop_table("join_request")

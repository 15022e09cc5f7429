"""Running points totals per member and per unit, per unit and day, and
units' headcounts (the read model)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_points",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("ranked", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_member_points_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_points_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_member_points_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "member_id", name=op.f("pk_member_points")),
    )
    op.create_index(
        "ix_member_points_rank", "member_points", ["campaign_id", "ranked", "points"], unique=False
    )
    op.create_index(
        "ix_member_points_unit_rank",
        "member_points",
        ["campaign_id", "unit_id", "ranked", "points"],
        unique=False,
    )
    op.create_table(
        "unit_points",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_unit_points_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_unit_points_unit_id_unit")),
        sa.PrimaryKeyConstraint("campaign_id", "unit_id", name=op.f("pk_unit_points")),
    )
    op.create_table(
        "unit_day_points",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_unit_day_points_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_unit_day_points_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "unit_id", "local_date", name=op.f("pk_unit_day_points")
        ),
    )
    op.create_table(
        "unit_headcount",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("ranked", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_unit_headcount_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_unit_headcount_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_headcount")),
    )
    op.create_index(
        op.f("ix_unit_headcount_organisation_id"),
        "unit_headcount",
        ["organisation_id"],
        unique=False,
    )
    with op.batch_alter_table("point_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_point_entry_campaign_member")
        batch_op.create_index(
            "ix_point_entry_campaign_member_time",
            ["campaign_id", "member_id", "occurred_at"],
            unique=False,
        )
    # The ledger so far, summed once (storage/totals.py keeps them up to date from here on).
    op.execute(
        "INSERT INTO member_points (campaign_id, member_id, unit_id, ranked, points) "
        "SELECT p.campaign_id, p.member_id, m.unit_id, "
        "(m.active AND m.role <> 'volunteer'), SUM(p.points) "
        "FROM point_entry p JOIN member m ON m.id = p.member_id "
        "GROUP BY p.campaign_id, p.member_id, m.unit_id, m.active, m.role"
    )
    op.execute(
        "INSERT INTO unit_points (campaign_id, unit_id, points) "
        "SELECT campaign_id, unit_id, SUM(points) FROM point_entry GROUP BY campaign_id, unit_id"
    )
    op.execute(
        "INSERT INTO unit_day_points (campaign_id, unit_id, local_date, points) "
        "SELECT campaign_id, unit_id, local_date, SUM(points) FROM point_entry "
        "GROUP BY campaign_id, unit_id, local_date"
    )
    op.execute(
        "INSERT INTO unit_headcount (unit_id, organisation_id, ranked) "
        "SELECT unit_id, organisation_id, COUNT(*) FROM member "
        "WHERE unit_id IS NOT NULL AND active AND role <> 'volunteer' "
        "GROUP BY unit_id, organisation_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("point_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_point_entry_campaign_member_time")
        batch_op.create_index(
            "ix_point_entry_campaign_member", ["campaign_id", "member_id"], unique=False
        )
    op.drop_index(op.f("ix_unit_headcount_organisation_id"), table_name="unit_headcount")
    op.drop_table("unit_headcount")
    op.drop_table("unit_day_points")
    op.drop_table("unit_points")
    op.drop_index("ix_member_points_unit_rank", table_name="member_points")
    op.drop_index("ix_member_points_rank", table_name="member_points")
    op.drop_table("member_points")

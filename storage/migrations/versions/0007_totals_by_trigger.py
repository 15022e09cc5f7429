"""Each new ledger row adds to the points totals inside the database (a trigger), not through
three more statements from the application

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 22:40:00.000000

Every award sent four statements (the ledger row, then the member's, the unit's and the day's
totals); now it sends one, and no way of writing a ledger row (a bulk load, a repair by hand)
can leave the totals behind. ``INSERT … ON CONFLICT DO NOTHING`` adds no row for a repeated
key, so a repeat adds nothing to the totals either. SQLite runs a trigger per row; PostgreSQL
one per statement over the rows it inserted (a transition table), grouped, so a ``COPY`` of
two million rows costs three grouped upserts rather than six million.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TRIGGER = "point_entry_adds_to_totals"

SQLITE = f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON point_entry
BEGIN
    INSERT INTO member_points (campaign_id, member_id, unit_id, ranked, points)
    SELECT NEW.campaign_id, member.id, member.unit_id,
           (member.active AND member.role <> 'volunteer'), NEW.points
    FROM member WHERE member.id = NEW.member_id
    ON CONFLICT (campaign_id, member_id)
    DO UPDATE SET points = member_points.points + excluded.points;
    INSERT INTO unit_points (campaign_id, unit_id, points)
    VALUES (NEW.campaign_id, NEW.unit_id, NEW.points)
    ON CONFLICT (campaign_id, unit_id)
    DO UPDATE SET points = unit_points.points + excluded.points;
    INSERT INTO unit_day_points (campaign_id, unit_id, local_date, points)
    VALUES (NEW.campaign_id, NEW.unit_id, NEW.local_date, NEW.points)
    ON CONFLICT (campaign_id, unit_id, local_date)
    DO UPDATE SET points = unit_day_points.points + excluded.points;
END
"""

POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO member_points (campaign_id, member_id, unit_id, ranked, points)
    SELECT added.campaign_id, member.id, member.unit_id,
           (member.active AND member.role <> 'volunteer'), sum(added.points)
    FROM added JOIN member ON member.id = added.member_id
    GROUP BY added.campaign_id, member.id, member.unit_id, member.active, member.role
    ON CONFLICT (campaign_id, member_id)
    DO UPDATE SET points = member_points.points + excluded.points;
    INSERT INTO unit_points (campaign_id, unit_id, points)
    SELECT campaign_id, unit_id, sum(points) FROM added GROUP BY campaign_id, unit_id
    ON CONFLICT (campaign_id, unit_id)
    DO UPDATE SET points = unit_points.points + excluded.points;
    INSERT INTO unit_day_points (campaign_id, unit_id, local_date, points)
    SELECT campaign_id, unit_id, local_date, sum(points) FROM added
    GROUP BY campaign_id, unit_id, local_date
    ON CONFLICT (campaign_id, unit_id, local_date)
    DO UPDATE SET points = unit_day_points.points + excluded.points;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGER = f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON point_entry
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        op.execute(SQLITE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TRIGGER} ON point_entry")
        op.execute(f"DROP FUNCTION {TRIGGER}()")
    else:
        op.execute(f"DROP TRIGGER {TRIGGER}")

"""The database schema: SQLAlchemy 2 models for every record Uplift keeps.

Times are stored as UTC; "today" is always a unit's local date, computed from its time zone.
Points live in an append-only ledger (``PointEntry``) with a unique idempotency key, so a score is
a sum that can be explained line by line and a repeated event can never score twice.
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel.roles import Role

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware UTC datetimes only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class SharedJSON(TypeDecorator[Any]):
    """JSON decoded once per distinct text and shared by every row read with that text.

    A campaign's plan (50 KB of JSON) is read with every drill answered and every scheduler
    tick; decoding it each time cost a third of a millisecond. Shared means read-only: a plan
    is replaced whole when it is loaded again, never changed in place. A driver that decodes
    JSON itself (psycopg) hands over values already decoded: nothing is shared then."""

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        decode = self.impl_instance.result_processor(dialect, coltype)
        if decode is None:
            return None
        return functools.lru_cache(maxsize=8)(decode)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Platform(StrEnum):
    CONSOLE = "console"
    SLACK = "slack"
    TELEGRAM = "telegram"


# --- the organisation ------------------------------------------------------------------------


class Organisation(Base):
    """A tenant: a bank, a bus company, a university office, a hotel group."""

    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # How a stranger gets in: "invitation" (an /invite code or link) or "approval" (they ask,
    # a supervisor of the unit approves). Invitation-only unless the plan says otherwise.
    joining: Mapped[str] = mapped_column(
        String(16), default="invitation", server_default="invitation"
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Unit(Base):
    """A unit (单位) in the organisation's tree: branch, outlet, line, section, department."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    morning_meeting: Mapped[str] = mapped_column(String(5))  # HH:MM local
    calendar: Mapped[dict[str, Any]] = mapped_column(JSON)  # the plan's Calendar, resolved
    depth: Mapped[int] = mapped_column(Integer, default=0)


class Member(Base):
    """A person taking part: staff, supervisor, admin or volunteer observer."""

    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.STAFF)
    is_unit_head: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(8))  # chosen by the person; wins
    hide_name: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PlatformIdentity(Base):
    """One account of a member on one platform; a person may have several."""

    __tablename__ = "platform_identity"
    __table_args__ = (UniqueConstraint("platform", "workspace", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")  # Slack team id
    external_id: Mapped[str] = mapped_column(String(64))
    platform_locale: Mapped[str | None] = mapped_column(String(16))
    private_chat_id: Mapped[str | None] = mapped_column(String(64))  # where to write privately
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ChatBinding(Base):
    """A group chat or channel bound to a unit: where its drills and notices go."""

    __tablename__ = "chat_binding"
    __table_args__ = (UniqueConstraint("platform", "workspace", "chat_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_id: Mapped[str] = mapped_column(String(64))
    # The chat's own language, for everything pushed or answered to the whole chat: the binder's
    # (or the unit's) when bound, changed by the unit's supervisors with /lang in the chat.
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- the campaign plan -----------------------------------------------------------------------


class Campaign(Base):
    """A dated campaign (活动) loaded from a plan file."""

    __tablename__ = "campaign"
    __table_args__ = (UniqueConstraint("organisation_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    plan: Mapped[dict[str, Any]] = mapped_column(SharedJSON)  # the validated plan (read-only)
    plan_digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Stage(Base):
    """A stage (阶段) with its dates, focus and target score."""

    __tablename__ = "stage"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    focus_zh: Mapped[str] = mapped_column(Text)
    focus_en: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    target_score: Mapped[float | None] = mapped_column(Float)
    remind_days_before_end: Mapped[int] = mapped_column(Integer, default=3)
    is_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Checklist(Base):
    """A standard (标准) checked item by item in self-checks and inspections."""

    __tablename__ = "checklist"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    stage_keys: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every stage
    unit_keys: Mapped[list[str]] = mapped_column(JSON, default=list)  # these units and below
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ChecklistItem(Base):
    """One line of a standard: hardware (硬件) or software (软件); critical for "100−1=0"."""

    __tablename__ = "checklist_item"
    __table_args__ = (UniqueConstraint("checklist_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float] = mapped_column(Float, default=1)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DrillItem(Base):
    """A question in the drill bank (演练题库): multiple choice or scenario."""

    __tablename__ = "drill_item"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # choice | scenario
    question_zh: Mapped[str] = mapped_column(Text)
    question_en: Mapped[str] = mapped_column(Text)
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{zh, en}], empty for scenario
    answer: Mapped[int | None] = mapped_column(Integer)  # 1-based, choice only
    explanation_zh: Mapped[str] = mapped_column(Text, default="")
    explanation_en: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# --- what people do ----------------------------------------------------------------------------


class Drill(Base):
    """One morning drill (晨会演练) pushed to one unit on one local date."""

    __tablename__ = "drill"
    __table_args__ = (UniqueConstraint("unit_id", "local_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    drill_item_id: Mapped[int] = mapped_column(ForeignKey("drill_item.id"), index=True)
    local_date: Mapped[dt.date] = mapped_column(Date)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DrillAnswer(Base):
    """A person's answer to a drill; one per person per drill counts."""

    __tablename__ = "drill_answer"
    __table_args__ = (UniqueConstraint("drill_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drill.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    choice: Mapped[int | None] = mapped_column(Integer)
    answer_text: Mapped[str | None] = mapped_column(Text)
    self_rating: Mapped[int | None] = mapped_column(Integer)  # scenario: 1-5 against the model
    correct: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SelfCheckRun(Base):
    """A self-check (自查) of a unit against a checklist, walked item by item; resumable."""

    __tablename__ = "selfcheck_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Float)
    zeroed_by_item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_item.id"))


class SelfCheckAnswer(Base):
    """Pass, fail or not applicable for one item of a run, with an optional comment and photo."""

    __tablename__ = "selfcheck_answer"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("selfcheck_run.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("checklist_item.id"), index=True)
    result: Mapped[str] = mapped_column(String(8))  # pass | fail | na
    comment: Mapped[str | None] = mapped_column(Text)
    photo_ref: Mapped[str | None] = mapped_column(String(300))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Rectification(Base):
    """A rectification (整改): a failed item with an owner and a deadline, closed with a note."""

    __tablename__ = "rectification"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("selfcheck_run.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_item.id"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    created_by_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    close_note: Mapped[str | None] = mapped_column(Text)
    closed_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Deed(Base):
    """A good deed (好人好事) reported for approval."""

    __tablename__ = "deed"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    reporter_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    category_key: Mapped[str] = mapped_column(String(64))
    amount: Mapped[float | None] = mapped_column(Float)  # money recovered (挽回损失)
    days: Mapped[int | None] = mapped_column(Integer)  # duration (持续时间)
    level: Mapped[int | None] = mapped_column(Integer)  # social impact (社会影响)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|approved|rejected
    decided_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DeedMember(Base):
    """A person named as doing a good deed."""

    __tablename__ = "deed_member"
    __table_args__ = (UniqueConstraint("deed_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deed_id: Mapped[int] = mapped_column(ForeignKey("deed.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)


class Observation(Base):
    """An observation (监督意见): praise, complaint, suggestion or hazard, owned under
    first-question responsibility (首问负责制) and closed within the time limit (限期办结)."""

    __tablename__ = "observation"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    # None when anonymous: nothing links an anonymous observation to the person who made it.
    observer_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(12))  # praise | complaint | suggestion | hazard
    text: Mapped[str] = mapped_column(Text)
    photo_ref: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | claimed | closed
    claimed_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    escalated_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    escalation_count: Mapped[int] = mapped_column(Integer, default=0)
    resolution: Mapped[str | None] = mapped_column(Text)
    closed_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)  # observer satisfaction 1-5 (满意度)
    praised_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Inspection(Base):
    """An inspection (检查): mystery shopper (神秘人), off-site video or cross check, scored
    out of 100, with the deducted items and the plan's assessment (奖惩) it produced."""

    __tablename__ = "inspection"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id"), index=True)
    inspector_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # mystery | video | cross
    score: Mapped[float] = mapped_column(Float)
    deducted_item_keys: Mapped[list[str]] = mapped_column(JSON)
    assessment: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{rule, kind, amount}]
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- the ledger and the plumbing -----------------------------------------------------------------


class PointEntry(Base):
    """One scoring event in the append-only points ledger (积分台账); never updated in place."""

    __tablename__ = "point_entry"
    __table_args__ = (
        # /score detail reads a member's newest rows: the member's own index, in time order.
        Index("ix_point_entry_campaign_member_time", "campaign_id", "member_id", "occurred_at"),
        Index("ix_point_entry_campaign_unit", "campaign_id", "unit_id"),
        Index("ix_point_entry_campaign_occurred", "campaign_id", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))  # None: unit-level
    source: Mapped[str] = mapped_column(String(16))  # drill|check|deed|observation|inspection|...
    rule: Mapped[str] = mapped_column(String(64))  # the plan's rule that produced it
    points: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    ref_table: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[dt.date] = mapped_column(Date)


class MemberPoints(Base):
    """A member's running total in a campaign: the read model every rank and leaderboard counts
    over. Written in the same transaction as each ledger row it sums (``Ledger.award``); the
    ledger stays the source and ``uplift db rebuild-totals`` recomputes this from it.

    ``unit_id`` and ``ranked`` (active and not a volunteer) copy the member's, so a rank is a
    count over one index: how many in the unit (or the campaign) have more points."""

    __tablename__ = "member_points"
    __table_args__ = (
        Index("ix_member_points_rank", "campaign_id", "ranked", "points"),
        Index("ix_member_points_unit_rank", "campaign_id", "unit_id", "ranked", "points"),
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    ranked: Mapped[bool] = mapped_column(Boolean)
    points: Mapped[int] = mapped_column(Integer)


class UnitPoints(Base):
    """A unit's running total in a campaign (every ledger row booked to it, members' and the
    unit's own), written with each ledger row; recomputed by ``uplift db rebuild-totals``."""

    __tablename__ = "unit_points"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


class UnitDayPoints(Base):
    """A unit's points on one local day: sums over a week, a month or a stage for many units
    (the weekly ranking among sibling units, a report's unit ranking) read a row per unit and
    day instead of every ledger row. Written with each ledger row, recomputed with the rest."""

    __tablename__ = "unit_day_points"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    local_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


class UnitHeadcount(Base):
    """How many ranked members (active, not volunteers) a unit has: the size every rank and
    per-member average divides by, kept as members join, move or change role, so no command
    counts 50,000 members to say "of 50,000"; recomputed by ``uplift db rebuild-totals``."""

    __tablename__ = "unit_headcount"
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    ranked: Mapped[int] = mapped_column(Integer)


class OutboxMessage(Base):
    """A message to push (drill, notice, reminder, summary), delivered once by the sender."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(250), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))  # set for private
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    # A private chat with one person (a member, or a stranger asking to join), not a group.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    locale: Mapped[str] = mapped_column(String(8))
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)  # a serialised neutral Reply
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending|sent|failed|skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # A sender took the row to send it; until then no other sender takes it. A sender that dies
    # leaves its claim to expire: the row is due again after the lease (bot/delivery.py).
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))


class SendPace(Base):
    """When the next message may go to a chat, or through a platform as a whole: the pacing
    every sender instance shares (bot/delivery.py says where each pace comes from)."""

    __tablename__ = "send_pace"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # platform:workspace:chat
    free_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ProcessedEvent(Base):
    """A platform event id already handled: retries and repeats stop here."""

    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Conversation(Base):
    """Where a person is in a multi-step flow (a self-check, a deed form): kept in the database
    so a restart, a second instance or a switch of device continues where they were."""

    __tablename__ = "conversation"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), unique=True)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Reminder(Base):
    """A reminder set with /remind: to a person, a unit's chat or every unit below one; once or
    recurring; delivered through the outbox at its local time."""

    __tablename__ = "reminder"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(8))  # me | unit | below
    target_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    target_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    text: Mapped[str] = mapped_column(Text)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    every_seconds: Mapped[int | None] = mapped_column(Integer)  # None: once
    timezone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class JoinCode(Base):
    """An invitation code for a unit (Telegram deep links: /start <code>), made by an admin."""

    __tablename__ = "join_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.STAFF)
    created_by_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class JoinRequest(Base):
    """A stranger asking to join a unit where joining needs a supervisor's approval (申请加入)."""

    __tablename__ = "join_request"
    __table_args__ = (Index("ix_join_request_unit_status", "unit_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    platform_locale: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|declined
    decided_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SentPoll(Base):
    """A quiz sent as a native poll: its answers arrive with only the poll's id."""

    __tablename__ = "sent_poll"
    __table_args__ = (UniqueConstraint("platform", "poll_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    poll_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ChoiceList(Base):
    """The choices of a long form field, kept for the platform to search as a person types
    (Slack's external select): a modal can carry only a token, not hundreds of names."""

    __tablename__ = "choice_list"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{value, label (Text JSON)}]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Visitor(Base):
    """Someone the campaign does not know yet, and the language they chose before joining."""

    __tablename__ = "visitor"
    __table_args__ = (UniqueConstraint("platform", "workspace", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SchedulerMark(Base):
    """How far the scheduler has looked for due pushes, so a restart resumes from there."""

    __tablename__ = "scheduler_mark"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    reached_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

"""Loading a validated campaign plan into the database, idempotently.

Loading the same plan twice changes nothing. Loading an edited plan updates what changed; things
removed from the plan are deactivated, never deleted, so no answer, run or point loses what it
refers to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import schema
from storage.models import (
    Campaign,
    Checklist,
    ChecklistItem,
    DrillItem,
    Organisation,
    Stage,
    Unit,
)


@dataclass
class LoadSummary:
    """What a load did, by kind of record: created, updated, deactivated."""

    campaign_id: int = 0
    organisation_id: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deactivated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def count(self, bucket: dict[str, int], kind: str) -> None:
        bucket[kind] = bucket.get(kind, 0) + 1


class Plans:
    """Loading a validated plan: ``uplift campaign load`` and the demo."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(self, plan: schema.Plan, now: dt.datetime) -> LoadSummary:
        return await load_plan(self._session, plan, now)


def plan_digest(plan: schema.Plan) -> str:
    canonical = json.dumps(plan.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def load_plan(session: AsyncSession, plan: schema.Plan, now: dt.datetime) -> LoadSummary:
    digest = plan_digest(plan)
    loaded = await _already_loaded(session, plan, digest)
    if loaded is not None:
        return loaded
    summary = LoadSummary()
    organisation = await _upsert(
        session,
        summary,
        "organisation",
        select(Organisation).where(Organisation.key == plan.organisation.key),
        lambda: Organisation(key=plan.organisation.key, created_at=now),
        {
            "name_zh": plan.organisation.name.zh,
            "name_en": plan.organisation.name.en,
            "joining": plan.organisation.joining,
        },
    )
    summary.organisation_id = organisation.id
    await _load_units(session, summary, plan, organisation.id)
    campaign = await _upsert(
        session,
        summary,
        "campaign",
        select(Campaign).where(
            Campaign.organisation_id == organisation.id, Campaign.key == plan.key
        ),
        lambda: Campaign(organisation_id=organisation.id, key=plan.key, loaded_at=now),
        {
            "title_zh": plan.title.zh,
            "title_en": plan.title.en,
            "timezone": plan.timezone,
            "locale": plan.locale,
            "starts_on": plan.starts_on,
            "ends_on": plan.ends_on,
            "plan": plan.model_dump(mode="json"),
            "plan_digest": digest,
        },
    )
    if summary.changed:
        campaign.loaded_at = now
    summary.campaign_id = campaign.id
    await _load_stages(session, summary, plan, campaign.id)
    await _load_checklists(session, summary, plan, campaign.id)
    await _load_drills(session, summary, plan, campaign.id)
    await session.flush()
    return summary


async def _already_loaded(
    session: AsyncSession, plan: schema.Plan, digest: str
) -> LoadSummary | None:
    """The summary of a load that would change nothing: this very plan (same digest) was the
    last one loaded in its organisation. Only loading writes the rows a plan makes, all in one
    transaction with the digest, so they are as the plan says; every start and every demo skips
    about two hundred lookups. After another campaign's plan of the organisation (which may have
    rewritten the shared units) it loads again."""
    found = (
        await session.execute(
            select(Campaign.id, Campaign.organisation_id, Campaign.loaded_at, Campaign.plan_digest)
            .join(Organisation, Organisation.id == Campaign.organisation_id)
            .where(Organisation.key == plan.organisation.key, Campaign.key == plan.key)
        )
    ).first()
    if found is None or found.plan_digest != digest:
        return None
    later = await session.scalar(
        select(Campaign.id).where(
            Campaign.organisation_id == found.organisation_id,
            Campaign.id != found.id,
            Campaign.loaded_at >= found.loaded_at,
        )
    )
    if later is not None:
        return None
    return LoadSummary(campaign_id=found.id, organisation_id=found.organisation_id)


async def _upsert(
    session: AsyncSession,
    summary: LoadSummary,
    kind: str,
    query: Any,
    create: Any,
    values: dict[str, Any],
) -> Any:
    """Find the row or create it, then set ``values``, counting what changed."""
    row = await session.scalar(query)
    if row is None:
        row = create()
        for name, value in values.items():
            setattr(row, name, value)
        if hasattr(row, "active"):
            row.active = True
        session.add(row)
        await session.flush()
        summary.count(summary.created, kind)
        return row
    if hasattr(row, "active") and not row.active:
        values = {**values, "active": True}
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(row, name, value)
        summary.count(summary.updated, kind)
    return row


async def _load_units(
    session: AsyncSession, summary: LoadSummary, plan: schema.Plan, organisation_id: int
) -> None:
    resolved: dict[str, tuple[Unit, dict[str, Any]]] = {}
    for depth, (unit, parent) in _units_with_depth(plan):
        inherited = (
            resolved[parent.key][1]
            if parent is not None
            else {
                "timezone": plan.timezone,
                "locale": plan.locale,
                "morning_meeting": plan.morning_meeting,
                "calendar": plan.calendar.model_dump(mode="json"),
            }
        )
        settings = {
            "timezone": unit.timezone or inherited["timezone"],
            "locale": unit.locale or inherited["locale"],
            "morning_meeting": unit.morning_meeting or inherited["morning_meeting"],
            "calendar": unit.calendar.model_dump(mode="json")
            if unit.calendar
            else inherited["calendar"],
        }
        row = await _upsert(
            session,
            summary,
            "unit",
            select(Unit).where(Unit.organisation_id == organisation_id, Unit.key == unit.key),
            lambda unit=unit: Unit(organisation_id=organisation_id, key=unit.key),
            {
                "name_zh": unit.name.zh,
                "name_en": unit.name.en,
                "parent_id": resolved[parent.key][0].id if parent is not None else None,
                "depth": depth,
                **settings,
            },
        )
        resolved[unit.key] = (row, settings)


def _units_with_depth(
    plan: schema.Plan,
) -> list[tuple[int, tuple[schema.Unit, schema.Unit | None]]]:
    depths: dict[str, int] = {}
    ordered = []
    for unit, parent in plan.all_units():
        depths[unit.key] = 0 if parent is None else depths[parent.key] + 1
        ordered.append((depths[unit.key], (unit, parent)))
    return ordered


async def _load_stages(
    session: AsyncSession, summary: LoadSummary, plan: schema.Plan, campaign_id: int
) -> None:
    for position, stage in enumerate(plan.stages, start=1):
        await _upsert(
            session,
            summary,
            "stage",
            select(Stage).where(Stage.campaign_id == campaign_id, Stage.key == stage.key),
            lambda stage=stage: Stage(campaign_id=campaign_id, key=stage.key),
            {
                "position": position,
                "name_zh": stage.name.zh,
                "name_en": stage.name.en,
                "focus_zh": stage.focus.zh,
                "focus_en": stage.focus.en,
                "starts_on": stage.starts_on,
                "ends_on": stage.ends_on,
                "target_score": stage.target_score,
                "remind_days_before_end": stage.remind_days_before_end,
                "is_summary": stage.summary,
            },
        )
    await _deactivate_missing(
        session,
        summary,
        "stage",
        Stage,
        Stage.campaign_id == campaign_id,
        {s.key for s in plan.stages},
    )


async def _load_checklists(
    session: AsyncSession, summary: LoadSummary, plan: schema.Plan, campaign_id: int
) -> None:
    for checklist in plan.checklists:
        row = await _upsert(
            session,
            summary,
            "checklist",
            select(Checklist).where(
                Checklist.campaign_id == campaign_id, Checklist.key == checklist.key
            ),
            lambda checklist=checklist: Checklist(campaign_id=campaign_id, key=checklist.key),
            {
                "title_zh": checklist.title.zh,
                "title_en": checklist.title.en,
                "stage_keys": list(checklist.stages),
                "unit_keys": list(checklist.units),
            },
        )
        for position, item in enumerate(checklist.items, start=1):
            await _upsert(
                session,
                summary,
                "checklist_item",
                select(ChecklistItem).where(
                    ChecklistItem.checklist_id == row.id, ChecklistItem.key == item.key
                ),
                lambda item=item, row=row: ChecklistItem(checklist_id=row.id, key=item.key),
                {
                    "position": position,
                    "text_zh": item.text.zh,
                    "text_en": item.text.en,
                    "kind": item.kind,
                    "weight": item.weight,
                    "critical": item.critical,
                },
            )
        await _deactivate_missing(
            session,
            summary,
            "checklist_item",
            ChecklistItem,
            ChecklistItem.checklist_id == row.id,
            {item.key for item in checklist.items},
        )
    await _deactivate_missing(
        session,
        summary,
        "checklist",
        Checklist,
        Checklist.campaign_id == campaign_id,
        {c.key for c in plan.checklists},
    )
    # Items of a checklist that left the plan leave with it.
    retired = select(Checklist.id).where(Checklist.campaign_id == campaign_id, ~Checklist.active)
    for item in await session.scalars(
        select(ChecklistItem).where(ChecklistItem.checklist_id.in_(retired), ChecklistItem.active)
    ):
        item.active = False
        summary.count(summary.deactivated, "checklist_item")


async def _load_drills(
    session: AsyncSession, summary: LoadSummary, plan: schema.Plan, campaign_id: int
) -> None:
    for position, drill in enumerate(plan.drills, start=1):
        if isinstance(drill, schema.ChoiceDrill):
            values = {
                "options": [option.model_dump() for option in drill.options],
                "answer": drill.answer,
                "explanation_zh": drill.explanation.zh,
                "explanation_en": drill.explanation.en,
            }
        else:
            values = {
                "options": [],
                "answer": None,
                "explanation_zh": drill.model_answer.zh,
                "explanation_en": drill.model_answer.en,
            }
        await _upsert(
            session,
            summary,
            "drill_item",
            select(DrillItem).where(
                DrillItem.campaign_id == campaign_id, DrillItem.key == drill.key
            ),
            lambda drill=drill: DrillItem(campaign_id=campaign_id, key=drill.key),
            {
                "position": position,
                "kind": drill.kind,
                "question_zh": drill.question.zh,
                "question_en": drill.question.en,
                **values,
            },
        )
    await _deactivate_missing(
        session,
        summary,
        "drill_item",
        DrillItem,
        DrillItem.campaign_id == campaign_id,
        {d.key for d in plan.drills},
    )


async def _deactivate_missing(
    session: AsyncSession,
    summary: LoadSummary,
    kind: str,
    model: Any,
    scope: Any,
    keep: set[str],
) -> None:
    rows = await session.scalars(select(model).where(scope, model.active))
    for row in rows:
        if row.key not in keep:
            row.active = False
            summary.count(summary.deactivated, kind)

"""Queries for self-checks (自查): checklists for a stage, runs walked item by item, answers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Checklist, ChecklistItem, SelfCheckAnswer, SelfCheckRun
from storage.upsert import insert_once


class SelfChecks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def checklists_for(
        self, campaign_id: int, stage_key: str | None, unit_keys: set[str] | None
    ) -> list[Checklist]:
        """Active checklists for the stage and unit: one naming no stage applies to every stage,
        one naming no unit to every unit; ``unit_keys`` are the unit and its ancestors (None:
        any unit)."""
        rows = await self._session.scalars(
            select(Checklist)
            .where(Checklist.campaign_id == campaign_id, Checklist.active)
            .order_by(Checklist.id)
        )
        return [
            c
            for c in rows
            if (not c.stage_keys or stage_key in c.stage_keys)
            and (unit_keys is None or not c.unit_keys or unit_keys & set(c.unit_keys))
        ]

    async def checklist(self, checklist_id: int) -> Checklist | None:
        return await self._session.get(Checklist, checklist_id)

    async def items(self, checklist_id: int) -> list[ChecklistItem]:
        rows = await self._session.scalars(
            select(ChecklistItem)
            .where(ChecklistItem.checklist_id == checklist_id, ChecklistItem.active)
            .order_by(ChecklistItem.position)
        )
        return list(rows)

    async def item(self, item_id: int) -> ChecklistItem | None:
        return await self._session.get(ChecklistItem, item_id)

    async def run(self, run_id: int) -> SelfCheckRun | None:
        return await self._session.get(SelfCheckRun, run_id)

    async def open_run(self, member_id: int) -> SelfCheckRun | None:
        """The member's unfinished run, if they left one half-way."""
        return await self._session.scalar(
            select(SelfCheckRun)
            .where(SelfCheckRun.member_id == member_id, SelfCheckRun.finished_at.is_(None))
            .order_by(SelfCheckRun.id.desc())
        )

    async def latest_run(self, member_id: int) -> SelfCheckRun | None:
        """The member's newest run, finished or not."""
        return await self._session.scalar(
            select(SelfCheckRun)
            .where(SelfCheckRun.member_id == member_id)
            .order_by(SelfCheckRun.id.desc())
            .limit(1)
        )

    async def start(
        self,
        *,
        member_id: int,
        unit_id: int,
        checklist_id: int,
        stage_id: int | None,
        now: dt.datetime,
    ) -> SelfCheckRun:
        run = SelfCheckRun(
            member_id=member_id,
            unit_id=unit_id,
            checklist_id=checklist_id,
            stage_id=stage_id,
            started_at=now,
        )
        self._session.add(run)
        await self._session.flush()
        return run

    async def record(
        self,
        *,
        run_id: int,
        item_id: int,
        result: str,
        now: dt.datetime,
        comment: str | None = None,
        photo_ref: str | None = None,
    ) -> bool:
        """Keep the first answer for an item of a run; False when it was answered before."""
        new_id = await insert_once(
            self._session,
            SelfCheckAnswer,
            {
                "run_id": run_id,
                "item_id": item_id,
                "result": result,
                "comment": comment,
                "photo_ref": photo_ref,
                "answered_at": now,
            },
            ("run_id", "item_id"),
        )
        return new_id is not None

    async def answers(self, run_id: int) -> list[SelfCheckAnswer]:
        rows = await self._session.scalars(
            select(SelfCheckAnswer)
            .where(SelfCheckAnswer.run_id == run_id)
            .order_by(SelfCheckAnswer.id)
        )
        return list(rows)

    @staticmethod
    def annotate(
        answer: SelfCheckAnswer, *, comment: str | None = None, photo_ref: str | None = None
    ) -> None:
        """A note or a photo given after a failed answer; what is not given stays as it was."""
        if comment is not None:
            answer.comment = comment
        if photo_ref is not None:
            answer.photo_ref = photo_ref

    @staticmethod
    def finish(
        run: SelfCheckRun, score: float, zeroed_by_item_id: int | None, now: dt.datetime
    ) -> None:
        run.score = score
        run.zeroed_by_item_id = zeroed_by_item_id
        run.finished_at = now

    async def average_score(
        self, unit_ids: list[int], first: dt.datetime, last: dt.datetime
    ) -> tuple[float | None, int]:
        """The mean score of self-checks finished in these units between two moments, and how
        many there were."""
        row = (
            await self._session.execute(
                select(func.avg(SelfCheckRun.score), func.count(SelfCheckRun.id)).where(
                    SelfCheckRun.unit_id.in_(unit_ids),
                    SelfCheckRun.finished_at.is_not(None),
                    SelfCheckRun.finished_at >= first,
                    SelfCheckRun.finished_at <= last,
                )
            )
        ).one()
        return (None if row[0] is None else round(float(row[0]), 1)), int(row[1])

    async def members_who_checked(
        self, unit_ids: list[int], first: dt.datetime, last: dt.datetime
    ) -> set[int]:
        """Members who finished a self-check in these units between two moments."""
        rows = await self._session.scalars(
            select(SelfCheckRun.member_id).where(
                SelfCheckRun.unit_id.in_(unit_ids),
                SelfCheckRun.finished_at.is_not(None),
                SelfCheckRun.finished_at >= first,
                SelfCheckRun.finished_at <= last,
            )
        )
        return set(rows)

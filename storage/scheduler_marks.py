"""How far the scheduler has got: the end of the last window it finished, so a restart resumes
from there and nothing that fell due while it was down is lost."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Campaign, ChatBinding, SchedulerMark, Unit


class SchedulerMarks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reached(self, name: str) -> dt.datetime | None:
        mark = await self._session.get(SchedulerMark, name)
        return mark.reached_at if mark else None

    async def advance(self, name: str, to: dt.datetime) -> None:
        """Move the mark forward to ``to`` (never back)."""
        mark = await self._session.get(SchedulerMark, name)
        if mark is None:
            self._session.add(SchedulerMark(name=name, reached_at=to))
        else:
            mark.reached_at = max(mark.reached_at, to)

    async def plan_version(self) -> tuple[object, ...]:
        """What the planned pushes follow from, in one small query: every campaign's plan
        digest and load time (a plan load that changes a unit, a stage or a calendar changes
        the digest), and how many units and bound chats there are and their newest ids (chats
        are only ever bound, units only come from plans). Equal answers: the same schedule."""
        rows = await self._session.execute(
            select(
                Campaign.id,
                Campaign.plan_digest,
                Campaign.loaded_at,
                select(func.count(Unit.id)).scalar_subquery(),
                select(func.max(Unit.id)).scalar_subquery(),
                select(func.count(ChatBinding.id)).scalar_subquery(),
                select(func.max(ChatBinding.id)).scalar_subquery(),
            ).order_by(Campaign.id)
        )
        return tuple(tuple(row) for row in rows)

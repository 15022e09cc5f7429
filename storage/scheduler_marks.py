"""How far the scheduler has got: the end of the last window it finished, so a restart resumes
from there and nothing that fell due while it was down is lost."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SchedulerMark


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

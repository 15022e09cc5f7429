"""Queries for reminders set with /remind."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Reminder


class Reminders:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        organisation_id: int,
        created_by_member_id: int,
        target_kind: str,
        target_member_id: int | None,
        target_unit_id: int | None,
        text: str,
        next_at: dt.datetime,
        every_seconds: int | None,
        timezone: str,
        now: dt.datetime,
    ) -> Reminder:
        reminder = Reminder(
            organisation_id=organisation_id,
            created_by_member_id=created_by_member_id,
            target_kind=target_kind,
            target_member_id=target_member_id,
            target_unit_id=target_unit_id,
            text=text,
            next_at=next_at,
            every_seconds=every_seconds,
            timezone=timezone,
            active=True,
            created_at=now,
        )
        self._session.add(reminder)
        await self._session.flush()
        return reminder

    async def get(self, reminder_id: int) -> Reminder | None:
        return await self._session.get(Reminder, reminder_id)

    async def of_creator(self, member_id: int) -> list[Reminder]:
        rows = await self._session.scalars(
            select(Reminder)
            .where(Reminder.created_by_member_id == member_id, Reminder.active)
            .order_by(Reminder.next_at, Reminder.id)
        )
        return list(rows)

    async def due_by(self, moment: dt.datetime) -> list[Reminder]:
        rows = await self._session.scalars(
            select(Reminder)
            .where(Reminder.active, Reminder.next_at <= moment)
            .order_by(Reminder.next_at, Reminder.id)
        )
        return list(rows)

    @staticmethod
    def cancel(reminder: Reminder) -> None:
        reminder.active = False

    @staticmethod
    def reschedule(reminder: Reminder, next_at: dt.datetime) -> None:
        """A recurring reminder's next local time."""
        reminder.next_at = next_at

"""Small queries for /healthz and /metrics."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, ProcessedEvent

HEALTH_PLATFORM = "healthz"


@dataclass(frozen=True)
class Backlog:
    """Messages waiting in the outbox, and how long the oldest one that fell due has waited
    (0 when none is overdue): a sender that stopped shows as an age that keeps growing."""

    pending: int
    oldest_due_seconds: float


class Health:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def database_answers(self) -> bool:
        return (await self._session.scalar(text("SELECT 1"))) == 1

    async def database_takes_a_write(self, now: dt.datetime) -> None:
        """Write a row and roll it back (to a savepoint: nothing is kept); raise the database's
        error when it refuses writes (a read-only database or file system, a full disk, a lock
        held too long)."""
        savepoint = await self._session.begin_nested()
        try:
            await self._session.execute(
                insert(ProcessedEvent).values(
                    platform=HEALTH_PLATFORM, event_id=uuid.uuid4().hex, received_at=now
                )
            )
        finally:
            await savepoint.rollback()

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: count for status, count in rows.all()}

    async def outbox_backlog(self, now: dt.datetime) -> Backlog:
        pending = OutboxMessage.status == "pending"
        count = await self._session.scalar(select(func.count()).where(pending))
        oldest = await self._session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                pending, OutboxMessage.next_attempt_at <= now
            )
        )
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return Backlog(int(count or 0), max(age, 0.0))

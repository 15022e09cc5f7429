"""Small read-only queries for /healthz and /metrics."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage


class Health:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def database_answers(self) -> bool:
        return (await self._session.scalar(text("SELECT 1"))) == 1

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: count for status, count in rows.all()}

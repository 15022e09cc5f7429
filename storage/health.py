"""Small read-only queries for /healthz and /metrics."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage


async def database_answers(session: AsyncSession) -> bool:
    return (await session.scalar(text("SELECT 1"))) == 1


async def outbox_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: count for status, count in rows.all()}

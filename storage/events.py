"""Processed platform event ids: a retried or repeated event is recognised and dropped."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedEvent
from storage.upsert import insert_once


class ProcessedEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_time(self, platform: str, event_id: str, now: dt.datetime) -> bool:
        """Record the event; False if it was seen before. Rolled back with the transaction, so an
        event whose handling failed is handled again when the platform retries it."""
        new_id = await insert_once(
            self._session,
            ProcessedEvent,
            {"platform": platform, "event_id": event_id, "received_at": now},
            ("platform", "event_id"),
        )
        return new_id is not None

    async def forget_before(self, moment: dt.datetime) -> int:
        """Drop ids older than any platform retries (housekeeping)."""
        result = await self._session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.received_at < moment)
        )
        return result.rowcount or 0

"""The native polls a quiz was sent as (a Telegram quiz poll), so a poll answer, which carries
only the poll's id, can be routed back to its drill."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SentPoll
from storage.upsert import insert_once


class Polls:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(
        self, *, platform: str, poll_id: str, chat_id: str, action: str, ref: str, now: dt.datetime
    ) -> None:
        await insert_once(
            self._session,
            SentPoll,
            {
                "platform": platform,
                "poll_id": poll_id,
                "chat_id": chat_id,
                "action": action,
                "ref": ref,
                "created_at": now,
            },
            ("platform", "poll_id"),
        )

    async def find(self, platform: str, poll_id: str) -> SentPoll | None:
        return await self._session.scalar(
            select(SentPoll).where(SentPoll.platform == platform, SentPoll.poll_id == poll_id)
        )

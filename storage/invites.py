"""Join codes for deep links (/start <code>) and the native polls a quiz was sent as."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import JoinCode, SentPoll
from storage.upsert import insert_once


class Invites:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        unit_id: int,
        role: str,
        created_by_member_id: int,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> JoinCode:
        code = JoinCode(
            code=secrets.token_urlsafe(9),
            unit_id=unit_id,
            role=role,
            created_by_member_id=created_by_member_id,
            expires_at=expires_at,
            created_at=now,
        )
        self._session.add(code)
        await self._session.flush()
        return code

    async def valid(self, code: str, now: dt.datetime) -> JoinCode | None:
        found = await self._session.scalar(select(JoinCode).where(JoinCode.code == code))
        return found if found is not None and found.expires_at > now else None


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

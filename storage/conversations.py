"""Multi-step flow state, kept in the database so a flow survives restarts and device changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation

# Asked by every event from a member: built once (building it cost more than running it).
_CURRENT = select(Conversation).where(Conversation.member_id == bindparam("member_id"))


class Conversations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # What this unit of work found or made: an event asks three or four times (a form put
        # aside, a command that cancels one, the routing, the handler). Only these methods write
        # the table, so the answer holds until one of them changes it.
        self._known: dict[int, Conversation | None] = {}

    def forget(self) -> None:
        """A savepoint rolled back: what it started or ended may not stand."""
        self._known.clear()

    async def current(self, member_id: int) -> Conversation | None:
        if member_id not in self._known:
            self._known[member_id] = await self._session.scalar(_CURRENT, {"member_id": member_id})
        return self._known[member_id]

    async def start(
        self, member_id: int, flow: str, step: str, data: dict[str, Any], now: dt.datetime
    ) -> Conversation:
        """Begin a flow, replacing any other one the person had open."""
        await self.end(member_id)
        conversation = Conversation(
            member_id=member_id, flow=flow, step=step, data=data, updated_at=now
        )
        self._session.add(conversation)
        await self._session.flush()
        self._known[member_id] = conversation
        return conversation

    async def move(
        self, conversation: Conversation, step: str, data: dict[str, Any], now: dt.datetime
    ) -> None:
        conversation.step = step
        conversation.data = dict(data)
        conversation.updated_at = now
        await self._session.flush()

    async def end(self, member_id: int) -> None:
        await self._session.execute(delete(Conversation).where(Conversation.member_id == member_id))
        self._known[member_id] = None

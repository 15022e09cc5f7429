"""The outbox: every push (drill, notice, reminder, summary) as a row with an idempotency key.

A unique key makes a second scheduler, a retry or a restart harmless; the sender marks each row
sent, failed (with the reason) or due again later (a 429's retry-after)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage
from storage.upsert import insert_once

MAX_ATTEMPTS = 8


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enqueue(
        self,
        *,
        key: str,
        platform: str,
        chat_id: str,
        reply: dict[str, Any],
        locale: str,
        due_at: dt.datetime,
        now: dt.datetime,
        workspace: str = "",
        member_id: int | None = None,
        unit_id: int | None = None,
        private: bool = False,
    ) -> bool:
        """Queue a message once; False if a message with this key was queued before."""
        new_id = await insert_once(
            self._session,
            OutboxMessage,
            {
                "idempotency_key": key,
                "platform": platform,
                "workspace": workspace,
                "chat_id": chat_id,
                "member_id": member_id,
                "unit_id": unit_id,
                "private": private or member_id is not None,
                "locale": locale,
                "reply": reply,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due_at,
                "created_at": now,
            },
            ("idempotency_key",),
        )
        return new_id is not None

    async def due(
        self, now: dt.datetime, platforms: set[str], limit: int = 100
    ) -> list[OutboxMessage]:
        rows = await self._session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.platform.in_(platforms),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        return list(rows)

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self._session.get(OutboxMessage, message_id)

    async def by_key(self, key: str) -> OutboxMessage | None:
        return await self._session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        )

    @staticmethod
    def mark_sent(
        message: OutboxMessage,
        now: dt.datetime,
        platform_message_id: str | None,
        *,
        note: str | None = None,
    ) -> None:
        message.status = "sent"
        message.attempts += 1
        message.sent_at = now
        message.platform_message_id = platform_message_id
        if note is not None:
            message.last_error = note

    @staticmethod
    def retry_later(message: OutboxMessage, at: dt.datetime, reason: str) -> None:
        """Try again at ``at``: a rate limit or a passing failure. Gives up after MAX_ATTEMPTS
        failures, but a rate limit alone never makes it give up."""
        message.next_attempt_at = at
        message.last_error = reason

    @staticmethod
    def mark_failed(
        message: OutboxMessage, reason: str, *, final: bool, retry_at: dt.datetime
    ) -> None:
        message.attempts += 1
        message.last_error = reason
        if final or message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
        else:
            message.next_attempt_at = retry_at

    @staticmethod
    def mark_skipped(message: OutboxMessage, reason: str) -> None:
        message.status = "skipped"
        message.last_error = reason

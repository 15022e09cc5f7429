"""Telling someone privately, through the outbox: used by the core for replies meant for other
people and by scheduled jobs for personal reminders."""

from __future__ import annotations

import datetime as dt
import logging

from handlers.locale import pick_locale
from kernel import Reply
from storage.store import Store

log = logging.getLogger(__name__)


async def queue_private(
    store: Store,
    *,
    member_id: int,
    reply: Reply,
    key: str,
    due_at: dt.datetime,
    now: dt.datetime,
    fallback_locale: str = "zh",
) -> bool:
    """Queue ``reply`` for the member's private chat, once per ``key``, in their language.

    False when the member cannot be reached privately on any platform (logged)."""
    member = await store.members.get(member_id)
    chats = await store.members.private_chats(member_id)
    if member is None or not chats:
        log.info("notify.unreachable member=%s", member_id)
        return False
    identity = chats[0]
    unit = await store.units.get(member.unit_id) if member.unit_id else None
    return await store.outbox.enqueue(
        key=f"{key}@{identity.platform}:{identity.workspace}:{identity.private_chat_id}",
        platform=identity.platform,
        workspace=identity.workspace,
        chat_id=identity.private_chat_id or "",
        member_id=member.id,
        unit_id=member.unit_id,
        reply=reply.to_json(),
        locale=pick_locale(
            member.locale,
            identity.platform_locale,
            unit.locale if unit else None,
            fallback=fallback_locale,
        ),
        due_at=due_at,
        now=now,
    )

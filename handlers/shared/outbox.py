"""Putting pushes in the outbox, once per key: to a unit's group chats in each chat's language,
or privately to one member in theirs; and whether a planned push falls due in a scheduler tick."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from handlers.shared.locale import pick_locale
from kernel import Reply, Window
from storage.models import ChatBinding, Unit
from storage.store import Store

log = logging.getLogger(__name__)


Compose = Callable[[str], Reply]
"""A push whose words depend on the language (plan content: a drill's question, a stage's
name): the reply for a locale."""


async def push_to_unit(
    store: Store,
    unit: Unit,
    key: str,
    reply: Reply | Compose,
    due_at: dt.datetime,
    now: dt.datetime,
    chats: Sequence[ChatBinding] | None = None,
) -> int:
    """Queue ``reply`` for every group chat bound to ``unit`` (``chats``, when the caller read
    them for many units at once), each in the chat's own language (``reply`` is composed per
    language when it carries plan content); returns how many were new."""
    queued = 0
    for chat in await store.units.chats(unit.id) if chats is None else chats:
        locale = pick_locale(chat.locale, fallback=unit.locale)
        queued += await store.outbox.enqueue(
            key=f"{key}@{chat.platform}:{chat.workspace}:{chat.chat_id}",
            platform=chat.platform,
            workspace=chat.workspace,
            chat_id=chat.chat_id,
            unit_id=unit.id,
            reply=(reply if isinstance(reply, Reply) else reply(locale)).to_json(),
            locale=locale,
            due_at=due_at,
            now=now,
        )
    return queued


def due_now(window: Window, moment: dt.datetime, grace: dt.timedelta, what: str) -> bool:
    """Whether a push planned for ``moment`` fires in this tick: it fell due in the window and is
    not stale (missed for longer than the grace while the process was down — then it is logged)."""
    if not window.covers(moment) or window.looks_ahead(moment):
        return False
    if moment < window.until - grace:
        log.warning("push.skipped_stale what=%s due=%s", what, moment.isoformat())
        return False
    return True


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


async def queue_to_person(
    store: Store,
    *,
    platform: str,
    workspace: str,
    chat_id: str,
    reply: Reply,
    locale: str,
    key: str,
    now: dt.datetime,
) -> bool:
    """Queue ``reply`` once for someone who is not (or not yet) a member: their private chat on
    their platform, in ``locale``."""
    return await store.outbox.enqueue(
        key=f"{key}@{platform}:{workspace}:{chat_id}",
        platform=platform,
        workspace=workspace,
        chat_id=chat_id,
        reply=reply.to_json(),
        locale=locale,
        due_at=now,
        now=now,
        private=True,
    )

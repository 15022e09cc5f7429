"""Pushing to a unit's group chats through the outbox, once per key, and when pushes fall due."""

from __future__ import annotations

import datetime as dt
import logging

from handlers.workdays import is_working_day
from kernel import Reply, Window
from storage.models import Unit
from storage.store import Store

log = logging.getLogger(__name__)

SEARCH_DAYS = 31


async def push_to_unit(
    store: Store, unit: Unit, key: str, reply: Reply, due_at: dt.datetime, now: dt.datetime
) -> int:
    """Queue ``reply`` for every group chat bound to ``unit``; returns how many were new."""
    queued = 0
    for chat in await store.units.chats(unit.id):
        queued += await store.outbox.enqueue(
            key=f"{key}@{chat.platform}:{chat.workspace}:{chat.chat_id}",
            platform=chat.platform,
            workspace=chat.workspace,
            chat_id=chat.chat_id,
            unit_id=unit.id,
            reply=reply.to_json(),
            locale=unit.locale,
            due_at=due_at,
            now=now,
        )
    return queued


def due_now(window: Window, moment: dt.datetime, grace: dt.timedelta, what: str) -> bool:
    """Whether a push planned for ``moment`` fires in this tick: it fell due in the window and is
    not stale (missed for longer than the grace while the process was down — then it is logged)."""
    if not window.covers(moment):
        return False
    if moment < window.until - grace:
        log.warning("push.skipped_stale what=%s due=%s", what, moment.isoformat())
        return False
    return True


def first_working_day_from(unit: Unit, day: dt.date) -> dt.date:
    """``day`` or the first working day after it (within a month)."""
    for offset in range(SEARCH_DAYS):
        candidate = day + dt.timedelta(days=offset)
        if is_working_day(unit.calendar, candidate):
            return candidate
    return day


def last_working_day_until(unit: Unit, day: dt.date) -> dt.date:
    """``day`` or the last working day before it (within a month)."""
    for offset in range(SEARCH_DAYS):
        candidate = day - dt.timedelta(days=offset)
        if is_working_day(unit.calendar, candidate):
            return candidate
    return day

"""The outbox: every push (drill, notice, reminder, summary) as a row with an idempotency key.

A unique key makes a second scheduler, a retry or a restart harmless; the sender marks each row
sent, failed (with the reason) or due again later (a 429's retry-after).

Several senders share the outbox: each ``claim``s a batch of due rows in one transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two never take the same row; SQLite has one writer
at a time), and a claim lasts a lease, after which a row whose sender died is due again. The
pacing every sender keeps to (when the next message may go to a chat, or through a platform as
a whole) is the ``send_pace`` table, read and moved under a row lock (``Pacing``)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import OutboxMessage, SendPace
from storage.upsert import insert_once
from storage.urls import is_sqlite

MAX_ATTEMPTS = 8
_LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# PostgreSQL's NOTIFY channel: a row queued by any instance wakes every instance's sender.
QUEUED = "uplift_outbox_queued"
_LISTEN_RETRY_SECONDS = 5.0

log = logging.getLogger(__name__)


def _unclaimed(now: dt.datetime) -> Any:
    return or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now)


class Pacing:
    """When the next message may go, per key (a chat: ``platform:workspace:chat``; a platform
    as a whole: ``platform:*``). ``hold`` locks the keys' rows for the rest of the transaction
    (every sender locks them in the same order, so two never wait on each other in a circle);
    ``move`` writes their new times."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def hold(self, keys: Iterable[str]) -> dict[str, dt.datetime]:
        """The keys' next-free times (long ago for a key never used), their rows locked."""
        ordered = sorted(set(keys))
        if not ordered:
            return {}
        found: dict[str, dt.datetime] = {}
        for start in range(0, len(ordered), 1000):
            chunk = ordered[start : start + 1000]
            if self._dialect() == "postgresql":
                # Rows first (a key never used), in key order, so the lock below covers them all.
                await self._session.execute(
                    postgresql.insert(SendPace)
                    .values([{"key": key, "free_at": _LONG_AGO} for key in chunk])
                    .on_conflict_do_nothing(index_elements=["key"])
                )
            query = select(SendPace.key, SendPace.free_at).where(SendPace.key.in_(chunk))
            if self._dialect() == "postgresql":
                query = query.order_by(SendPace.key).with_for_update()
            found.update((key, at) for key, at in (await self._session.execute(query)).all())
        return {key: found.get(key, _LONG_AGO) for key in ordered}

    async def move(self, free_at: Mapping[str, dt.datetime]) -> None:
        """Set the keys' next-free times (held in this transaction)."""
        if not free_at:
            return
        insert = postgresql.insert if self._dialect() == "postgresql" else sqlite.insert
        rows = [{"key": key, "free_at": at} for key, at in sorted(free_at.items())]
        for start in range(0, len(rows), 1000):
            statement = insert(SendPace).values(rows[start : start + 1000])
            await self._session.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"], set_={"free_at": statement.excluded.free_at}
                )
            )

    async def extend(self, until: Mapping[str, dt.datetime]) -> None:
        """No message to these keys before ``until`` (a 429's retry-after): a time only ever
        moves later."""
        held = await self.hold(until)
        await self.move({key: at for key, at in until.items() if at > held[key]})


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.pacing = Pacing(session)
        self._told: set[str] = set()  # platforms whose senders this transaction woke

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
        if new_id is not None and platform not in self._told:
            self._told.add(platform)
            if self._session.get_bind().dialect.name == "postgresql":
                # Delivered when this transaction commits (once, however many rows it queues).
                await self._session.execute(select(func.pg_notify(QUEUED, platform)))
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
                _unclaimed(now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        return list(rows)

    async def claim(
        self,
        *,
        platform: str,
        now: dt.datetime,
        limit: int,
        owner: str,
        lease: dt.timedelta,
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due rows of ``platform`` for ``owner`` until ``now + lease``:
        no other sender takes them meanwhile, and they are due again if this one dies. Rows
        another transaction is claiming right now are skipped, not waited for."""
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.platform == platform,
                _unclaimed(now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(await self._session.scalars(query))
        if rows:
            until = now + lease
            await self._session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in rows]))
                .values(claimed_until=until, claimed_by=owner)
                .execution_options(synchronize_session=False)
            )
            for row in rows:  # as written, without writing it twice or reading it again
                set_committed_value(row, "claimed_until", until)
                set_committed_value(row, "claimed_by", owner)
        return rows

    async def claimed(self, ids: Iterable[int]) -> dict[int, OutboxMessage]:
        """The rows a sender claimed, to record what became of them."""
        wanted = list(ids)
        found: dict[int, OutboxMessage] = {}
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = await self._session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(chunk))
            )
            found.update((row.id, row) for row in rows)
        return found

    async def next_due(self, platforms: set[str], now: dt.datetime) -> dt.datetime | None:
        """When the next row of these platforms falls due: its own time, or the end of a claim
        that a sender may have left behind; None when nothing is pending."""
        pending = (OutboxMessage.status == "pending", OutboxMessage.platform.in_(platforms))
        free = await self._session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(*pending, _unclaimed(now))
        )
        held = await self._session.scalar(
            select(func.min(OutboxMessage.claimed_until)).where(
                *pending, OutboxMessage.claimed_until > now
            )
        )
        times = [at for at in (free, held) if at is not None]
        return min(times, default=None)

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self._session.get(OutboxMessage, message_id)

    async def by_key(self, key: str) -> OutboxMessage | None:
        return await self._session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        )

    @staticmethod
    def release(message: OutboxMessage) -> None:
        """The sender is done with the row (sent, failed, or put back): its claim ends."""
        message.claimed_until = None
        message.claimed_by = None

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


async def watch_queued(url: str, wake: Callable[[], None], stop: asyncio.Event) -> None:
    """Until ``stop``: call ``wake`` whenever any instance queues a row (PostgreSQL's LISTEN on
    the channel ``enqueue`` notifies). SQLite has one process: its own ``wake()`` is enough, and
    this returns at once. A lost connection is opened again after a pause, waking once in case a
    notice went by meanwhile."""
    if is_sqlite(url):
        return
    import psycopg  # the driver the engine uses too (storage/urls.py)

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as listener:
                await listener.execute(f"LISTEN {QUEUED}")
                wake()
                while not stop.is_set():
                    async for _ in listener.notifies(timeout=0.25, stop_after=1):
                        wake()
        except (psycopg.Error, OSError) as error:
            log.warning("outbox.listen_failed error=%s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _LISTEN_RETRY_SECONDS)

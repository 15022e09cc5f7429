"""The sender: delivers outbox rows through each platform's adapter, within its limits.

Each row is marked sent, due again later (a rate limit's retry-after, a passing failure) or failed
with the reason. A message is never dropped because a platform said "slow down". Before a push the
sender asks an adapter that knows its platform's limits (``Throttled``) when the chat is free, so a
row waits for a ban that a later 429 extended instead of running into it. A message sent in parts
(a split text, a poll after its intro, files) that stopped half way is marked sent and only its
unsent rest is queued again: a part that went out is never sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kernel import Clock, Reply
from storage.database import Database
from storage.models import OutboxMessage
from storage.store import Store

log = logging.getLogger(__name__)

RETRY_BACKOFF = dt.timedelta(seconds=30)
STALE_AFTER = dt.timedelta(hours=2)  # a push never tried for this long after it fell due is skipped


class RateLimited(Exception):
    """The platform asked us to wait (HTTP 429 and its retry-after), or its adapter knows the
    chat is still banned or paced. ``rest``: when part of the message already went out, what is
    left to send (None when nothing went out: the whole message is still to send)."""

    def __init__(self, retry_after: float, *, rest: Reply | None = None) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after
        self.rest = rest

    def leaving(self, rest: Reply) -> RateLimited:
        """The same refusal, noting that only ``rest`` is still to send."""
        self.rest = rest
        return self


class DeliveryFailed(Exception):
    """The platform refused the message; ``final`` when trying again cannot help. ``rest`` as
    for RateLimited."""

    def __init__(self, reason: str, *, final: bool, rest: Reply | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final
        self.rest = rest

    def leaving(self, rest: Reply) -> DeliveryFailed:
        """The same refusal, noting that only ``rest`` is still to send."""
        self.rest = rest
        return self


class SentUnreadable(Exception):
    """The platform took the message but its answer could not be read (a malformed reply, a
    connection cut after the request went out). It counts as sent: sending it again would show it
    twice, so it is never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Destination:
    platform: str
    workspace: str
    chat_id: str
    is_private: bool


class OutboundAdapter(Protocol):
    """What a platform adapter offers the sender."""

    platform: str

    def pace(self, destination: Destination) -> dt.timedelta:
        """The least time between two messages to one chat (e.g. a second; 3 s in a group)."""
        ...

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        """Send; return the platform's message id. Raise RateLimited, DeliveryFailed or
        SentUnreadable."""
        ...


@runtime_checkable
class Throttled(Protocol):
    """An adapter that keeps its platform's limits itself (Telegram): the sender asks it before
    each push. Adapters without it are taken as free whenever their ``pace`` allows."""

    def free_at(self, destination: Destination) -> dt.datetime | None:
        """When the platform takes a new message to this chat: None for now, else the end of a
        rate limit's ban (extended by every new 429) or of the platform's pacing."""
        ...


class Sender:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        adapters: Mapping[str, OutboundAdapter],
        *,
        stale_after: dt.timedelta = STALE_AFTER,
    ) -> None:
        self._database = database
        self._clock = clock
        self._adapters = dict(adapters)
        self._last_sent: dict[tuple[str, str, str], dt.datetime] = {}
        self._stale_after = stale_after

    async def flush(self, limit: int = 100) -> int:
        """Send what is due now; return how many were sent."""
        async with self._database.store() as store:
            due = await store.outbox.due(self._clock.now(), set(self._adapters), limit)
            ids = [message.id for message in due]
        sent = 0
        for message_id in ids:
            sent += await self._deliver_one(message_id)
        return sent

    async def _deliver_one(self, message_id: int) -> int:
        """Read the row, send it with no transaction open (the platform may be slow, and an
        adapter may need the database itself), then record the outcome. A crash between
        sending and recording sends it again: at least once, never lost."""
        now = self._clock.now()
        async with self._database.store() as store:
            outbox = store.outbox
            message = await outbox.get(message_id)
            if message is None or message.status != "pending":
                return 0
            if (
                message.attempts == 0
                and message.last_error is None
                and message.next_attempt_at < now - self._stale_after
            ):
                # Queued before the process went down and never tried: too late to be useful.
                outbox.mark_skipped(message, f"stale: due {message.next_attempt_at.isoformat()}")
                log.warning(
                    "delivery.skipped_stale id=%s due=%s",
                    message.id,
                    message.next_attempt_at.isoformat(),
                )
                return 0
            adapter = self._adapters[message.platform]
            chat = (message.platform, message.workspace, message.chat_id)
            destination = Destination(
                message.platform,
                message.workspace,
                message.chat_id,
                is_private=message.private or message.member_id is not None,
            )
            interval = adapter.pace(destination)
            ready_at = self._last_sent.get(chat, now - interval) + interval
            if ready_at > now:
                outbox.retry_later(message, ready_at, "per-chat pacing")
                return 0
            free_at = adapter.free_at(destination) if isinstance(adapter, Throttled) else None
            if free_at is not None and free_at > now:
                outbox.retry_later(message, free_at, "the platform's limits: chat busy")
                return 0
            reply, locale = Reply.from_json(message.reply), message.locale
        outcome: Exception | None = None
        message_ref: str | None = None
        try:
            message_ref = await adapter.push(destination, reply, locale)
        except (RateLimited, DeliveryFailed, SentUnreadable) as error:
            outcome = error
        except Exception as error:  # a bug or a surprise must not block the queue behind it
            log.exception("delivery.crashed id=%s platform=%s", message_id, destination.platform)
            outcome = DeliveryFailed(f"unexpected: {type(error).__name__}", final=False)
        async with self._database.store() as store:
            message = await store.outbox.get(message_id)
            assert message is not None
            if isinstance(outcome, RateLimited | DeliveryFailed) and outcome.rest is not None:
                return await self._partly_sent(store, message, outcome, outcome.rest, now, chat)
            return self._record(store, message, outcome, message_ref, now, chat)

    async def _partly_sent(
        self,
        store: Store,
        message: OutboxMessage,
        outcome: RateLimited | DeliveryFailed,
        rest: Reply,
        now: dt.datetime,
        chat: tuple[str, str, str],
    ) -> int:
        """Part of the message went out before the platform stopped it: the row counts as sent
        (its parts are in the chat) and only the rest is queued, as a row of its own."""
        self._last_sent[chat] = now
        if isinstance(outcome, DeliveryFailed) and outcome.final:
            store.outbox.mark_failed(
                message, f"partly sent, then: {outcome.reason}", final=True, retry_at=now
            )
            log.warning("delivery.partly_failed id=%s reason=%s", message.id, outcome.reason)
            return 0
        if isinstance(outcome, RateLimited):
            due = now + dt.timedelta(seconds=outcome.retry_after)
            why = f"rate limited: retry after {outcome.retry_after}s"
        else:
            due, why = now + RETRY_BACKOFF, outcome.reason
        first = message.idempotency_key.split(":rest:", 1)[0][:200]
        key = f"{first}:rest:{message.id}"  # a row's id is unique: so is its rest's key
        await store.outbox.enqueue(
            key=key,
            platform=message.platform,
            workspace=message.workspace,
            chat_id=message.chat_id,
            member_id=message.member_id,
            unit_id=message.unit_id,
            private=message.private,
            reply=rest.to_json(),
            locale=message.locale,
            due_at=due,
            now=now,
        )
        store.outbox.mark_sent(message, now, None, note=f"partly sent ({why}); the rest is {key}")
        log.warning("delivery.partly_sent id=%s rest=%s reason=%s", message.id, key, why)
        return 1

    def _record(
        self,
        store: Store,
        message: OutboxMessage,
        outcome: Exception | None,
        message_ref: str | None,
        now: dt.datetime,
        chat: tuple[str, str, str],
    ) -> int:
        if isinstance(outcome, RateLimited):
            retry_at = now + dt.timedelta(seconds=outcome.retry_after)
            store.outbox.retry_later(
                message, retry_at, f"rate limited: retry after {outcome.retry_after}s"
            )
            log.warning(
                "delivery.rate_limited platform=%s retry_after=%s",
                message.platform,
                outcome.retry_after,
            )
            return 0
        if isinstance(outcome, DeliveryFailed):
            store.outbox.mark_failed(
                message, outcome.reason, final=outcome.final, retry_at=now + RETRY_BACKOFF
            )
            log.warning(
                "delivery.failed id=%s final=%s reason=%s",
                message.id,
                outcome.final,
                outcome.reason,
            )
            return 0
        if isinstance(outcome, SentUnreadable):
            log.warning("delivery.sent_unreadable id=%s reason=%s", message.id, outcome.reason)
            store.outbox.mark_sent(
                message, now, None, note=f"sent, answer unread: {outcome.reason}"
            )
            self._last_sent[chat] = now
            return 1
        store.outbox.mark_sent(message, now, message_ref)
        self._last_sent[chat] = now
        log.info("delivery.sent id=%s platform=%s", message.id, message.platform)
        return 1

"""The sender: delivers outbox rows through each platform's adapter, within its limits.

Each row is marked sent, due again later (a rate limit's retry-after, a passing failure) or failed
with the reason. A message is never dropped because a platform said "slow down". A message sent in
parts (a split text, a poll after its intro, files) that stopped half way is marked sent and only
its unsent rest is queued again: a part that went out is never sent twice.

How it keeps to the limits with several instances on one database:

- **Claims.** One transaction claims a batch of due rows of one platform (``Outbox.claim``: ``FOR
  UPDATE SKIP LOCKED`` on PostgreSQL), for a lease (``LEASE``). Rows are sent with no transaction
  open; their outcomes are recorded together in one transaction. A sender that dies leaves its
  claims to expire: those rows are due again after the lease, so nothing is lost and at most the
  rows in flight at the crash are sent twice.
- **Pacing in the database.** The ``send_pace`` table holds, per chat and per platform, when the
  next message may go; the claim moves it under a row lock, so two instances together stay within
  the limits. Per chat, ``adapter.pace()`` is the least time between two messages (a chat not yet
  free puts its row back, due when it is). Per platform (``Metered`` adapters: Telegram), the claim
  reserves one slot per HTTP message (``adapter.cost()``), ``1 / per_second`` apart, at most
  ``HORIZON`` ahead; the sender waits for each row's slot, then sends, many at once.
- **A 429** moves the chat's next-free time (or the platform's, when the adapter says the bot as a
  whole was limited) to the end of its retry-after, for every instance.
- **Waking.** ``run()`` sleeps until the next row falls due or ``wake()`` is called (by whatever
  queued one in this process; on PostgreSQL also by any instance's ``enqueue``, through
  LISTEN/NOTIFY), not on a timer; ``flush()`` sends what is due now and returns how many went.

Where the numbers come from (the adapters say it next to each, see /work/shared/PLATFORMS.md):
Telegram (core.telegram.org/bots/faq, "My bot is hitting limits"): about 30 messages a second in
all (we take 29), one a second in a chat (we space them 1.1 s), 20 a minute in a group (we take
19: one every 3.16 s) — bot/adapters/telegram/limits.py. Slack (docs.slack.dev/apis/web-api/
rate-limits, chat.postMessage "special" tier): about one message a second per channel, and a
workspace limit Slack does not number — bot/adapters/slack/adapter.py ``pace``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.outbound import (
    DeliveryFailed,
    Destination,
    Metered,
    OutboundAdapter,
    RateLimited,
    SentUnreadable,
    Throttled,
)
from kernel import Clock, Reply
from storage.database import Database
from storage.models import OutboxMessage
from storage.outbox import watch_queued
from storage.store import Store

if TYPE_CHECKING:
    from bot.metrics import Metrics

__all__ = [
    "DeliveryFailed",
    "Destination",
    "Metered",
    "OutboundAdapter",
    "RateLimited",
    "Sender",
    "SentUnreadable",
    "Throttled",
]

log = logging.getLogger(__name__)

RETRY_BACKOFF = dt.timedelta(seconds=30)
STALE_AFTER = dt.timedelta(hours=2)  # a push never tried for this long after it fell due is skipped
# A claim lasts this long: a row whose sender died is due again after it. Far longer than a
# batch takes (its slots are at most HORIZON ahead, then one round trip per message).
LEASE = dt.timedelta(seconds=60)
# A claim reserves a platform's overall slots at most this far ahead: what one instance holds
# back from another, and what a crash can leave unused.
HORIZON = dt.timedelta(seconds=2)
BATCH = 200  # rows one claim takes at most (a platform without an overall pace)
CONCURRENCY = 256  # messages in flight at once (PTB's connection pool is 256)
# Seconds run() sleeps at most with nothing due: a row queued by another process wakes it on
# PostgreSQL (NOTIFY); this bounds the wait should a notice be lost (a dropped listener).
IDLE = 30.0
RUN_BATCHES = 1000  # rows run() sends before it looks at when the next falls due
RECORDING = 3  # batches whose answers may still be coming while the next is sent
LEAD = dt.timedelta(seconds=1)  # a metered platform's next batch is claimed this early


@dataclass(frozen=True)
class _Item:
    """A claimed row on its way: where, what, and when its slot comes."""

    message: OutboxMessage
    destination: Destination
    reply: Reply
    chat_key: str
    interval: dt.timedelta
    at: dt.datetime
    cost: int = 1


@dataclass
class _Outcome:
    item: _Item
    error: Exception | None = None
    ref: str | None = None


@dataclass
class _Batch:
    asked: int = 0  # rows the claim asked for (fewer than wanted when the pace has no room)
    claimed: int = 0  # rows taken from the outbox (sent, put back or skipped)
    items: list[_Item] = field(default_factory=list)


class Sender:
    """Sends the outbox; see the module's docstring. ``sleep`` waits for a slot (``asyncio.sleep``
    in service; tests move their clock instead); ``name`` tells this instance's claims apart."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        adapters: Mapping[str, OutboundAdapter],
        *,
        stale_after: dt.timedelta = STALE_AFTER,
        metrics: Metrics | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        lease: dt.timedelta = LEASE,
        name: str | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._database = database
        self._clock = clock
        self._adapters = dict(adapters)
        self._stale_after = stale_after
        self._metrics = metrics
        self._sleep = sleep or asyncio.sleep
        self._lease = lease
        self.name = (name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[:64]
        self._in_flight = asyncio.Semaphore(concurrency)
        self._wakes = {platform: asyncio.Event() for platform in self._adapters}
        self._departs: dict[str, dt.datetime] = {}  # a metered platform's next departure here

    # --- what the process calls ----------------------------------------------------------------

    async def flush(self, limit: int = 100) -> int:
        """Send what is due now (at most ``limit`` rows per platform, each platform at its own
        pace, all at once); return how many were sent."""
        counts = await asyncio.gather(
            *(self._drain(platform, limit) for platform in self._adapters)
        )
        return sum(sent for sent, _ in counts)

    def wake(self) -> None:
        """Something was queued: ``run()`` looks at once instead of at the next due time."""
        for wake in self._wakes.values():
            wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set: each platform on its own, sleeping until its next row
        falls due or ``wake()``. A batch in progress at the stop is finished and recorded."""
        await asyncio.gather(
            watch_queued(self._database.url, self.wake, stop),
            *(self._run(platform, stop) for platform in self._adapters),
        )

    async def _run(self, platform: str, stop: asyncio.Event) -> None:
        wake = self._wakes[platform]
        while not stop.is_set():
            wake.clear()
            try:
                _, claimed = await self._drain(platform, RUN_BATCHES, stop)
                now = self._clock.now()
                async with self._database.store() as store:
                    due = await store.outbox.next_due({platform}, now)
                delay = IDLE if due is None else (due - now).total_seconds()
                if delay <= 0 and claimed == 0:
                    delay = 0.05  # due, but another instance is claiming it right now
            except Exception:
                log.exception("delivery.run_failed platform=%s", platform)
                delay = 5.0
            if delay > 0 and not stop.is_set():
                await _first_of(wake, stop, min(delay, IDLE))

    # --- one platform's queue ------------------------------------------------------------------

    async def _drain(
        self, platform: str, limit: int, stop: asyncio.Event | None = None
    ) -> tuple[int, int]:
        """Claim and send batches until nothing more is due or ``limit`` rows were taken;
        (sent, taken). The next batch is claimed while the last one's answers are on their way
        (at most RECORDING batches wait to be recorded); on a metered platform, LEAD before the
        last one's final slot, so the platform's pace has no gap while a claim runs."""
        sent = taken = 0
        recording: list[asyncio.Task[int]] = []
        pacing: asyncio.Task[asyncio.Task[int]] | None = None
        last_slot: dt.datetime | None = None
        metered = isinstance(self._adapters[platform], Metered)
        try:
            while taken < limit and not (stop is not None and stop.is_set()):
                if last_slot is not None:
                    wait = (last_slot - LEAD - self._clock.now()).total_seconds()
                    if wait > 0:
                        await self._sleep(wait)
                want = min(limit - taken, self._batch_size(platform))
                batch = await self._claim(platform, want)
                taken += batch.claimed
                if pacing is not None:
                    recording.append(await pacing)
                    pacing, last_slot = None, None
                if batch.items:
                    pacing = asyncio.create_task(self._send(platform, batch.items))
                    if metered:
                        last_slot = max(item.at for item in batch.items)
                    else:
                        recording.append(await pacing)
                        pacing = None
                while len(recording) >= RECORDING:
                    sent += await recording.pop(0)
                if batch.claimed < batch.asked:
                    break  # nothing more is due
        finally:
            if pacing is not None:
                recording.append(await pacing)
            for outcome in await asyncio.gather(*recording, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    log.error("delivery.record_failed platform=%s", platform, exc_info=outcome)
                else:
                    sent += outcome
        return sent, taken

    def _batch_size(self, platform: str) -> int:
        adapter = self._adapters[platform]
        if isinstance(adapter, Metered):
            return max(1, int(adapter.per_second * HORIZON.total_seconds()))
        return BATCH

    async def _claim(self, platform: str, want: int) -> _Batch:
        """One transaction: take due rows, skip the stale, give each the next slot its chat and
        (on a metered platform) the platform as a whole allow, and put back the rows whose slot
        lies beyond HORIZON, due when it comes."""
        now = self._clock.now()
        adapter = self._adapters[platform]
        metered = adapter if isinstance(adapter, Metered) else None
        overall = f"{platform}:*"
        async with self._database.store() as store:
            outbox = store.outbox
            free: dict[str, dt.datetime] = {}
            if metered is not None:
                # The platform's row first (every sender locks it before any chat's): take no
                # more rows than its slots left within HORIZON hold.
                free = await outbox.pacing.hold({overall})
                room = (now + HORIZON - max(free[overall], now)).total_seconds()
                want = min(want, max(1, int(room * metered.per_second)))
            rows = await outbox.claim(
                platform=platform, now=now, limit=want, owner=self.name, lease=self._lease
            )
            batch = _Batch(asked=want, claimed=len(rows))
            candidates = [item for row in rows if (item := self._usable(store, row, now))]
            keys = {item.chat_key for item in candidates if item.interval}
            free |= await outbox.pacing.hold(keys)
            moved: dict[str, dt.datetime] = {}
            for item in candidates:
                chat_at = max(free[item.chat_key], now) if item.interval else now
                at = chat_at
                if metered is not None:
                    at = max(free[overall], now)
                    if chat_at > at:  # the chat is not free at the platform's next slot
                        outbox.retry_later(item.message, chat_at, "per-chat pacing")
                        outbox.release(item.message)
                        continue
                if at > now + HORIZON:
                    why = "per-chat pacing" if at == chat_at else "the platform's pace"
                    outbox.retry_later(item.message, at, why)
                    outbox.release(item.message)
                    continue
                cost = self._cost(metered, item) if metered is not None else 1
                item = dataclasses.replace(item, at=at, cost=cost)
                if metered is not None:
                    free[overall] = moved[overall] = at + self._gap(metered, item.cost)
                if item.interval:
                    free[item.chat_key] = at + item.interval * item.cost
                    moved[item.chat_key] = free[item.chat_key]
                batch.items.append(item)
            await outbox.pacing.move(moved)
        return batch

    def _usable(self, store: Store, message: OutboxMessage, now: dt.datetime) -> _Item | None:
        """The row as an item to send, or None when it is skipped (stale) or its chat is held
        by the adapter itself (a ban it knows of)."""
        outbox = store.outbox
        if (
            message.attempts == 0
            and message.last_error is None
            and message.next_attempt_at < now - self._stale_after
        ):
            # Queued before the process went down and never tried: too late to be useful.
            outbox.mark_skipped(message, f"stale: due {message.next_attempt_at.isoformat()}")
            outbox.release(message)
            self._count(message.platform, "skipped")
            log.warning(
                "delivery.skipped_stale id=%s due=%s",
                message.id,
                message.next_attempt_at.isoformat(),
            )
            return None
        adapter = self._adapters[message.platform]
        destination = Destination(
            message.platform,
            message.workspace,
            message.chat_id,
            is_private=message.private or message.member_id is not None,
        )
        free_at = adapter.free_at(destination) if isinstance(adapter, Throttled) else None
        if free_at is not None and free_at > now:
            outbox.retry_later(message, free_at, "the platform's limits: chat busy")
            outbox.release(message)
            return None
        return _Item(
            message,
            destination,
            Reply.from_json(message.reply),
            _chat_key(destination),
            adapter.pace(destination),
            now,
        )

    @staticmethod
    def _cost(adapter: Metered, item: _Item) -> int:
        try:
            return max(1, adapter.cost(item.destination, item.reply, item.message.locale))
        except Exception:  # counted as one; the push itself will say what is wrong
            log.exception("delivery.cost_failed id=%s", item.message.id)
            return 1

    @staticmethod
    def _gap(adapter: Metered, cost: int) -> dt.timedelta:
        return dt.timedelta(seconds=cost / adapter.per_second)

    # --- sending -------------------------------------------------------------------------------

    async def _send(self, platform: str, items: list[_Item]) -> asyncio.Task[int]:
        """Each item at its slot, many in flight at once (rows to one unpaced chat in order);
        returns the task that records every outcome in one transaction once all are answered.

        On a metered platform messages also leave at least ``1 / per_second`` apart in this
        process: after a stall (a busy event loop) the late ones are spread out again, not sent
        in a burst that a strict second-by-second count would refuse."""
        adapter = self._adapters[platform]
        tasks: list[asyncio.Task[_Outcome]] = []
        previous: dict[str, asyncio.Task[_Outcome]] = {}
        for item in sorted(items, key=lambda item: item.at):
            # A place in flight first, then the slot: with ``concurrency=1`` each message is
            # answered before the clock moves on to the next one's slot.
            await self._in_flight.acquire()
            at = item.at
            if isinstance(adapter, Metered):
                at = max(at, self._departs.get(platform, at))
            # One sleep, not a loop: a clock that only moves when told must not hang us.
            if (wait := (at - self._clock.now()).total_seconds()) > 0:
                await self._sleep(wait)
            if isinstance(adapter, Metered):
                # Late by less than a message's gap: the next keeps its time; later (a stall):
                # the next may follow at once, then the pace resumes. Never more than two close.
                gap = self._gap(adapter, item.cost)
                self._departs[platform] = max(at, self._clock.now() - gap) + gap
            task = asyncio.create_task(self._push(item, previous.get(item.chat_key)))
            previous[item.chat_key] = task
            tasks.append(task)
        return asyncio.create_task(self._answered(tasks))

    async def _answered(self, tasks: list[asyncio.Task[_Outcome]]) -> int:
        return await self._record(list(await asyncio.gather(*tasks)))

    async def _push(self, item: _Item, after: asyncio.Task[_Outcome] | None) -> _Outcome:
        """Send one row with no transaction open (the platform may be slow, and an adapter may
        need the database itself). Never raises: the outcome says what happened."""
        adapter = self._adapters[item.destination.platform]
        try:
            if after is not None and not after.done():  # (a done one: no yield, order kept)
                await asyncio.wait([after])
            try:
                ref = await adapter.push(item.destination, item.reply, item.message.locale)
                return _Outcome(item, ref=ref)
            except (RateLimited, DeliveryFailed, SentUnreadable) as error:
                return _Outcome(item, error)
            except Exception as error:  # a bug or a surprise must not block the queue behind it
                log.exception(
                    "delivery.crashed id=%s platform=%s",
                    item.message.id,
                    item.destination.platform,
                )
                return _Outcome(
                    item, DeliveryFailed(f"unexpected: {type(error).__name__}", final=False)
                )
        finally:
            self._in_flight.release()  # taken by _send

    async def _record(self, outcomes: list[_Outcome]) -> int:
        """Every outcome of a batch in one transaction; a 429 moves its chat's (or its
        platform's) next-free time for every instance. A crash before this sends the batch
        again after the lease: at least once, never lost."""
        if not outcomes:
            return 0
        now = self._clock.now()
        sent = 0
        async with self._database.store() as store:
            rows = await store.outbox.claimed(o.item.message.id for o in outcomes)
            later: dict[str, dt.datetime] = {}
            for outcome in outcomes:
                message = rows.get(outcome.item.message.id)
                if message is None or message.status != "pending":
                    continue  # recorded already (our claim ran out and another sent it)
                store.outbox.release(message)
                error = outcome.error
                if isinstance(error, RateLimited) and not error.held:
                    until = now + dt.timedelta(seconds=error.retry_after)
                    key = outcome.item.chat_key
                    if error.whole_platform:
                        key = f"{message.platform}:*"
                    later[key] = max(until, later.get(key, until))
                if isinstance(error, RateLimited | DeliveryFailed) and error.rest is not None:
                    sent += await self._partly_sent(store, message, error, error.rest, now)
                else:
                    sent += self._apply(store, message, error, outcome.ref, now)
            await store.outbox.pacing.extend(later)
        return sent

    async def _partly_sent(
        self,
        store: Store,
        message: OutboxMessage,
        outcome: RateLimited | DeliveryFailed,
        rest: Reply,
        now: dt.datetime,
    ) -> int:
        """Part of the message went out before the platform stopped it: the row counts as sent
        (its parts are in the chat) and only the rest is queued, as a row of its own."""
        self._count_refusal(message.platform, outcome)
        if isinstance(outcome, DeliveryFailed) and outcome.final:
            store.outbox.mark_failed(
                message, f"partly sent, then: {outcome.reason}", final=True, retry_at=now
            )
            self._count(message.platform, "partly_failed")
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
        self._count(message.platform, "partly_sent")
        log.warning("delivery.partly_sent id=%s rest=%s reason=%s", message.id, key, why)
        return 1

    def _apply(
        self,
        store: Store,
        message: OutboxMessage,
        outcome: Exception | None,
        message_ref: str | None,
        now: dt.datetime,
    ) -> int:
        self._count_refusal(message.platform, outcome)
        if isinstance(outcome, RateLimited):
            retry_at = now + dt.timedelta(seconds=outcome.retry_after)
            store.outbox.retry_later(
                message, retry_at, f"rate limited: retry after {outcome.retry_after}s"
            )
            self._count(message.platform, "held" if outcome.held else "rate_limited")
            log.warning(
                "delivery.rate_limited platform=%s retry_after=%s held=%s",
                message.platform,
                outcome.retry_after,
                outcome.held,
            )
            return 0
        if isinstance(outcome, DeliveryFailed):
            store.outbox.mark_failed(
                message, outcome.reason, final=outcome.final, retry_at=now + RETRY_BACKOFF
            )
            self._count(message.platform, "failed" if message.status == "failed" else "retry")
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
            self._count(message.platform, "unreadable")
            return 1
        store.outbox.mark_sent(message, now, message_ref)
        self._count(message.platform, "sent")
        log.debug("delivery.sent id=%s platform=%s", message.id, message.platform)
        return 1

    # --- metrics -------------------------------------------------------------------------------

    def _count(self, platform: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.sends.labels(platform=platform, outcome=outcome).inc()

    def _count_refusal(self, platform: str, outcome: Exception | None) -> None:
        if self._metrics is None or outcome is None:
            return
        if isinstance(outcome, RateLimited) and not outcome.held:
            self._metrics.rate_limited.labels(platform=platform).inc()
        elif isinstance(outcome, DeliveryFailed):
            reason = outcome.reason.split(":", 1)[0][:40]
            self._metrics.failures.labels(where="send", reason=reason).inc()


def _chat_key(destination: Destination) -> str:
    return f"{destination.platform}:{destination.workspace}:{destination.chat_id}"


async def _first_of(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Wait (real time) until ``wake`` or ``stop`` is set, or ``seconds`` pass."""
    waits = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        for task in waits:
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""Group notices, coalesced: "I answered you in a private message" and "press Start first".

Ten people typing /help in a group at once would otherwise get ten pointers within a second, and
a group takes 20 messages a minute. Each group gets at most one notice per window (30 s), naming
everyone it answers: the first waits a moment (``gather``) for the others typing at the same time,
and whoever asks while a window runs is named in the notice that ends it.

Why not a reaction on the command message (setMessageReaction, which PTB 22 has)? A group's admins
may restrict or turn off reactions, a reaction does not say where the answer went, and the "press
Start" case needs a sentence and a button anyway.

The gather and the window are real time: they wait for people typing, not for Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

GATHER = 1.0  # seconds to wait for others asking at the same moment
WINDOW = 30.0  # seconds between two notices in one group
GATHER_AT_MOST = 5.0  # a steady stream of askers does not hold the first notice back longer


@dataclass
class Notice:
    """Who one notice names: those answered privately and those who must press Start first."""

    locale: str
    answered: list[str] = field(default_factory=list)
    must_start: list[str] = field(default_factory=list)


@dataclass
class _Group:
    last_sent: float = float("-inf")
    pending: Notice | None = None
    first_at: float = 0.0
    last_at: float = 0.0
    task: asyncio.Task[None] | None = None

    def gathering(self, locale: str, now: float) -> Notice:
        """The notice being gathered, begun now if none is."""
        if self.pending is None:
            self.pending = Notice(locale)
            self.first_at = now
        self.last_at = now
        return self.pending

    def take(self, now: float) -> Notice | None:
        """The gathered notice, to send now (None when nothing was gathered)."""
        notice, self.pending = self.pending, None
        self.last_sent = now
        return notice

    def runs(self, task: asyncio.Task[None] | None) -> None:
        self.task = task


Send = Callable[[int, Notice], Awaitable[None]]


class GroupNotices:
    def __init__(
        self,
        send: Send,
        *,
        gather: float = GATHER,
        window: float = WINDOW,
        gather_at_most: float = GATHER_AT_MOST,
    ) -> None:
        self._send = send
        self._gather = gather
        self._window = window
        self._gather_at_most = gather_at_most
        self._groups: dict[int, _Group] = {}

    def answered(self, chat_id: int, name: str, locale: str) -> None:
        """``name`` asked in the group and was answered in their private chat."""
        notice = self._pending(chat_id, locale)
        if name not in notice.answered:
            notice.answered.append(name)

    def must_start(self, chat_id: int, name: str, locale: str) -> None:
        """``name`` asked in the group, but the bot may not write to them privately yet."""
        notice = self._pending(chat_id, locale)
        if name not in notice.must_start:
            notice.must_start.append(name)

    async def close(self) -> None:
        """Stop: notices still gathering are dropped (each is a pointer, never an answer)."""
        for chat_id, group in self._groups.items():
            if group.task is not None and not group.task.done():
                group.task.cancel()
                if group.pending is not None:
                    log.info("telegram.notice_dropped chat=%s", chat_id)
        tasks = [g.task for g in self._groups.values() if g.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._groups.clear()

    def _pending(self, chat_id: int, locale: str) -> Notice:
        group = self._groups.setdefault(chat_id, _Group())
        notice = group.gathering(locale, time.monotonic())
        if group.task is None or group.task.done():
            group.runs(asyncio.get_running_loop().create_task(self._run(chat_id, group)))
        return notice

    def _due(self, group: _Group) -> float:
        gathered = min(group.last_at + self._gather, group.first_at + self._gather_at_most)
        return max(gathered, group.last_sent + self._window)

    async def _run(self, chat_id: int, group: _Group) -> None:
        while True:
            wait = self._due(group) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            notice = group.take(time.monotonic())
            if notice is None:
                return
            try:
                await self._send(chat_id, notice)
            except Exception:
                log.exception("telegram.notice_failed chat=%s", chat_id)
            if group.pending is None:
                group.runs(None)
                return

"""Telegram's flood limits as the adapter keeps them, for every message it sends or edits.

Telegram's numbers (core.telegram.org/bots/faq, "My bot is hitting limits, how do I avoid this?"):
no more than one message a second in a chat ("we may allow short bursts"), about 30 messages a
second in all, and no more than 20 messages a minute in one group. Going over them earns HTTP 429
with ``retry_after``: the seconds to wait before that chat (or, for the overall limit, the whole
bot) may be written to again. Every HTTP message counts (a drill sent as an intro and a poll is
two), so every send and edit takes a turn here first.

The adapter keeps a little under Telegram's numbers (the margins below): requests leave a few
milliseconds after their turn and may arrive bunched up. These limits are this process's own; the
sender (bot/delivery.py) paces outbox pushes through the database, so several instances together
keep to them (``OVERALL_PER_SECOND`` is its ``per_second``, ``chat_pace`` its per-chat pace), and
this layer only smooths what leaves one process (its overall spacing, ``SPACING_PER_SECOND``, is
a little looser than the sender's, so it never holds back a message the sender timed right).

Time is the injected clock's, and waiting is the injected ``sleep``: the real clock and
``asyncio.sleep`` in service, a clock the tests move instead of sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import deque
from collections.abc import Awaitable, Callable

from bot.delivery import RateLimited
from kernel import Clock

# About 30 messages a second in all (FAQ): the sender takes 29 (it spaces them evenly, so a
# second never holds more than 29 plus what a late request bunches up).
OVERALL_PER_SECOND = 29
# The adapter keeps any two messages of the process at least 1/30 s apart. Not 1/29, the
# sender's own spacing: counted from the last actual send, every message that started a
# millisecond late (an event loop waking late) pushed all later ones back for good, and a
# broadcast ran at 28.2 a second, not 29 (bench/broadcast.py). Between 1/30 and 1/29 a late
# start is made up within the next few messages, and 31 never leave within one second.
SPACING_PER_SECOND = 30
# One message a second per chat with short bursts allowed (FAQ): a bucket of 3 that refills one
# message every 1.1 s (Telegram says neither how long a burst may be nor how it refills).
CHAT_BURST = 3
CHAT_INTERVAL = 1.1
# No more than 20 messages a minute to one group (FAQ): the adapter takes 19, and the sender
# spaces a group's messages 60/19 = 3.16 s apart.
GROUP_PER_MINUTE = 19
# A 429 while the adapter sent at least this many messages in the last second is taken as the
# bot-wide limit (Telegram's answer does not say which limit it was), as are 429s for two
# different chats within a second.
BOT_WIDE_SUSPECT = 15
# A pause between two turns this many times the spacing is taken as a stall (see _overall_wait):
# the next message waits a spacing more (one lost, after every pause under a second).
STALL_GAPS = 2
_FORGET_AFTER = 120.0  # seconds of quiet after which a chat's pacing is forgotten


class Limits:
    """Per chat: a ban (the end of its last 429), a bucket of messages, and for a group the
    messages of the last minute. For the bot: a ban and the messages of the last second.

    ``turn`` is called right before every API call that sends or edits a message; between its
    check and the reservation nothing awaits, so concurrent senders cannot both take a last slot.
    """

    def __init__(
        self,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        *,
        per_second: int = SPACING_PER_SECOND,
        chat_burst: int = CHAT_BURST,
        chat_interval: float = CHAT_INTERVAL,
        group_per_minute: int = GROUP_PER_MINUTE,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._per_second = per_second
        self._chat_burst = chat_burst
        self._chat_interval = chat_interval
        self._group_per_minute = group_per_minute
        self._sent: deque[float] = deque()  # every message of the last second
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (messages left, at)
        self._group_sent: dict[int, deque[float]] = {}  # group -> new messages of the last minute
        self._banned: dict[int, float] = {}  # chat -> end of its ban
        self._banned_all = 0.0  # end of the bot-wide ban
        self._recent_bans: deque[tuple[float, int]] = deque()  # (when, chat) of recent 429s

    # --- what the sender and the adapter ask ---------------------------------------------------

    def now(self) -> float:
        return self._clock.now().timestamp()

    def banned_for(self, chat_id: int) -> float:
        """Seconds until a 429's ban on this chat (or on the whole bot) ends; 0 when none."""
        return max(0.0, max(self._banned_all, self._banned.get(chat_id, 0.0)) - self.now())

    def free_at(self, chat_id: int) -> dt.datetime | None:
        """When a new message to this chat may go: None for now, else the end of its ban or of
        its pacing (the bot-wide pace, under a second, is waited out by ``turn``)."""
        now = self.now()
        wait = max(self.banned_for(chat_id), self._chat_wait(chat_id, now, new_message=True))
        if wait <= 0:
            return None
        return self._clock.now() + dt.timedelta(seconds=wait)

    async def turn(
        self,
        chat_id: int,
        *,
        new_message: bool = True,
        patience: float = 2.0,
        through_bans: bool = False,
    ) -> None:
        """Wait for this chat's turn and take it. A ban raises RateLimited with what is left of
        it (unless ``through_bans``: then it is waited out too); so does pacing that would take
        longer than ``patience`` seconds. ``new_message`` is False for an edit, which does not
        count towards a group's messages a minute."""
        while True:
            banned = self.banned_for(chat_id)
            if banned > 0:
                if not through_bans:
                    raise RateLimited(banned, held=True)
                await self._sleep(_rounded(banned))
                continue
            now = self.now()
            wait = max(self._overall_wait(now), self._chat_wait(chat_id, now, new_message))
            if wait <= 0:
                self._take(chat_id, now, new_message)
                return
            if wait > patience and not through_bans:
                raise RateLimited(wait, held=True)
            await self._sleep(_rounded(wait))

    def limited(self, chat_id: int, seconds: float) -> bool:
        """Telegram answered 429 for this chat: ban it for ``seconds`` (a ban is only ever
        extended). Return True when the bot as a whole is taken to be limited (see
        BOT_WIDE_SUSPECT): then every chat is banned as long."""
        now = self.now()
        until = now + max(0.0, seconds)
        self._banned[chat_id] = max(self._banned.get(chat_id, 0.0), until)
        while self._recent_bans and self._recent_bans[0][0] <= now - 1.0:
            self._recent_bans.popleft()
        other_chats = {chat for _, chat in self._recent_bans if chat != chat_id}
        self._recent_bans.append((now, chat_id))
        self._forget_before(self._sent, now - 1.0)
        bot_wide = len(self._sent) >= BOT_WIDE_SUSPECT or bool(other_chats)
        if bot_wide:
            self._banned_all = max(self._banned_all, until)
        return bot_wide

    # --- the three paces -------------------------------------------------------------------------

    def _overall_wait(self, now: float) -> float:
        """Messages leave at least 1 / per_second apart, not merely so many in any second: a
        burst after a stall, within the count, still reaches Telegram bunched up with the
        messages before it and is one too many in the second Telegram counts (measured with
        bench/broadcast.py: a sliding count of 29 earned 429s, this spacing none)."""
        self._forget_before(self._sent, now - 1.0)
        if not self._sent:
            return 0.0
        gap = 1.0 / self._per_second
        if now - self._sent[-1] > STALL_GAPS * gap:
            # Nothing took a turn for a while: the loop may have stalled between the last turn
            # and its request leaving, so that message may be leaving only now. Count it so, or
            # this one and the next arrive bunched up with it, one too many in Telegram's second
            # (measured with bench/broadcast.py: 9 429s in 10,000 messages, each after a stall).
            self._sent[-1] = now
            return gap
        return self._sent[-1] + gap - now

    def _chat_wait(self, chat_id: int, now: float, new_message: bool) -> float:
        left = self._left(chat_id, now)
        wait = 0.0 if left >= 1.0 else (1.0 - left) * self._chat_interval
        group = self._group_sent.get(chat_id)
        if new_message and chat_id < 0 and group is not None:
            self._forget_before(group, now - 60.0)
            if len(group) >= self._group_per_minute:
                wait = max(wait, group[-self._group_per_minute] + 60.0 - now)
        return wait

    def _left(self, chat_id: int, now: float) -> float:
        left, at = self._buckets.get(chat_id, (float(self._chat_burst), now))
        return min(float(self._chat_burst), left + max(0.0, now - at) / self._chat_interval)

    def _take(self, chat_id: int, now: float, new_message: bool) -> None:
        self._sent.append(now)
        self._buckets[chat_id] = (self._left(chat_id, now) - 1.0, now)
        if new_message and chat_id < 0:
            self._group_sent.setdefault(chat_id, deque()).append(now)
        if len(self._buckets) > 10_000:
            self._forget_quiet_chats(now)

    def _forget_quiet_chats(self, now: float) -> None:
        for chat_id, (_, at) in list(self._buckets.items()):
            if at < now - _FORGET_AFTER:
                del self._buckets[chat_id]
                self._group_sent.pop(chat_id, None)
        for chat_id, until in list(self._banned.items()):
            if until < now:
                del self._banned[chat_id]

    @staticmethod
    def _forget_before(times: deque[float], since: float) -> None:
        while times and times[0] <= since:
            times.popleft()


def chat_pace(chat_id: int) -> dt.timedelta:
    """The least time between two new messages to a chat, as the sender paces its pushes: a
    group 60 / GROUP_PER_MINUTE s, any other chat CHAT_INTERVAL (a group's id is negative)."""
    return dt.timedelta(seconds=60 / GROUP_PER_MINUTE if chat_id < 0 else CHAT_INTERVAL)


def _rounded(seconds: float) -> float:
    """Waits in whole milliseconds, never zero: a wait always moves time forward."""
    return max(0.001, math.ceil(seconds * 1000) / 1000)

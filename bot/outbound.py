"""What a platform adapter offers the sender, and how it says a message did not go: the contract
between ``bot/adapters/`` and the sender (``bot/delivery.py``). Light on purpose: importing an
adapter's light parts (``uplift campaign validate`` reads Telegram's poll limits) loads no
database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kernel import Reply


class RateLimited(Exception):
    """The platform asked us to wait (HTTP 429 and its retry-after), or its adapter knows the
    chat is still banned or paced (``held``: nothing was sent, no 429 came). ``rest``: when part
    of the message already went out, what is left to send (None when nothing went out: the whole
    message is still to send). ``whole_platform``: the limit was the bot's as a whole (every
    chat waits), not the chat's."""

    def __init__(
        self,
        retry_after: float,
        *,
        rest: Reply | None = None,
        whole_platform: bool = False,
        held: bool = False,
    ) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after
        self.rest = rest
        self.whole_platform = whole_platform
        self.held = held

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
class Metered(Protocol):
    """An adapter whose platform limits the bot as a whole, in HTTP messages (Telegram: about 30
    a second): the sender spaces every message it sends through it, on all instances together."""

    per_second: float

    def cost(self, destination: Destination, reply: Reply, locale: str) -> int:
        """How many HTTP messages ``reply`` takes (an intro and a poll are two)."""
        ...


@runtime_checkable
class Throttled(Protocol):
    """An adapter that keeps its platform's limits itself (Telegram): the sender asks it before
    each push. Adapters without it are taken as free whenever their ``pace`` allows."""

    def free_at(self, destination: Destination) -> dt.datetime | None:
        """When the platform takes a new message to this chat: None for now, else the end of a
        rate limit's ban (extended by every new 429) or of the platform's pacing."""
        ...

"""Waking the other instances' senders when this one queued messages (PostgreSQL NOTIFY).

Each instance's sender sleeps until the next row it knows of falls due. Rows queued by another
instance (the leader's scheduler queuing a broadcast) would wait for that sleep to end, so after
queuing, an instance says so on a channel every instance listens to, on a connection of its own.
SQLite serves one process: there is nobody else to tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.database import Database

log = logging.getLogger(__name__)

CHANNEL = "uplift_outbox"
RECONNECT_SECONDS = 5.0


async def tell_instances(database: Database) -> None:
    """Wake every instance's sender (this one's too): messages were queued."""
    if database.is_sqlite:
        return
    async with database.transaction() as session:
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class Wakeups:
    """Listens for ``tell_instances`` and calls ``wake`` for each; reconnects when the
    connection drops (a wake missed meanwhile only waits for the sender's own next look)."""

    def __init__(self, url: str, wake: Callable[[], None]) -> None:
        self._conninfo = (
            None
            if make_url(url).get_backend_name() == "sqlite"
            else make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._wake = wake
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._conninfo is not None:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        assert self._conninfo is not None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self._wake()  # whatever was said while we were not listening
                    async for _ in connection.notifies():
                        self._wake()
            except (psycopg.Error, OSError) as error:
                log.warning("delivery.wakeups_lost error=%s", type(error).__name__)
            await asyncio.sleep(RECONNECT_SECONDS)

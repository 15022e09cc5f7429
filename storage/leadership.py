"""Which of several processes on one PostgreSQL database runs the scheduler: a session advisory
lock held on a connection of its own.

PostgreSQL releases the lock when the session ends, so a leader that dies (``kill -9``, a lost
machine) frees it as soon as the server notices: at once when the kernel closes the socket, or
within the TCP keepalive set on this session when the network goes silent. A follower asks again
every few seconds. SQLite serves one process, which is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.urls import async_url, is_sqlite

log = logging.getLogger(__name__)

# Any 64-bit number, the same in every instance: "uplift:scheduler" in ASCII, folded.
SCHEDULER_LOCK = 0x75706C6966747363
CHECK_SECONDS = 5.0  # a check that takes longer means the connection is gone
# The server drops a silent client's session (and its lock) after idle + interval * count.
KEEPALIVE = {"tcp_keepalives_idle": 15, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class Leadership:
    """``claim()`` returns whether this process leads now: it takes the lock if it is free and
    checks that a lock it holds is still held (its connection alive)."""

    def __init__(self, url: str, key: int = SCHEDULER_LOCK) -> None:
        self._key = key
        self._always = is_sqlite(url)
        self._engine: AsyncEngine | None = (
            None
            if self._always
            else create_async_engine(
                async_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT"
            )
        )
        self._connection: AsyncConnection | None = None
        self.leads = self._always

    async def claim(self) -> bool:
        if self._always:
            return True
        try:
            self.leads = await asyncio.wait_for(self._claim(), CHECK_SECONDS)
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            if self.leads:
                log.warning("scheduler.leadership_lost error=%s", type(error).__name__)
            self.leads = False
            await self._drop_connection()
        return self.leads

    async def _claim(self) -> bool:
        if self._connection is None:
            assert self._engine is not None
            self._connection = await self._engine.connect()
            for name, value in KEEPALIVE.items():
                await self._connection.exec_driver_sql(f"SET {name} = {int(value)}")
        if self.leads:
            await self._connection.execute(text("SELECT 1"))  # alive: the lock is still ours
            return True
        taken = await self._connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
        )
        if taken:
            log.info("scheduler.leader")
        return bool(taken)

    async def release(self) -> None:
        """Give the lock up (a clean stop): a follower takes over at its next try."""
        if self._connection is not None and self.leads:
            with contextlib.suppress(SQLAlchemyError, OSError):  # the session ends anyway
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
                )
        self.leads = self._always
        await self._drop_connection()
        if self._engine is not None:
            await self._engine.dispose()

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await connection.close()

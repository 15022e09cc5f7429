"""SQLite on the event loop's own thread, for the demo and the console.

aiosqlite runs every statement on a worker thread and hands the result back through the event
loop: about half a millisecond a statement, which is most of the time the demo spends when
``/clock`` lives through months of simulated colleagues (tens of thousands of statements, each
microseconds in SQLite itself). The demo serves one person at a console, so it runs the same
statements on the loop's thread instead, through the same aiosqlite interface SQLAlchemy's
driver expects. ``uplift run`` keeps aiosqlite's thread: there a slow statement must not hold up
the answers to everyone else.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread (SQLAlchemy's driver puts work on it
    directly to set the isolation level): runs the work at once and settles its future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as error:
            if future is not None:
                future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


class InLoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run at once, on the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InLoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InLoopConnection]:
        return self._connect().__await__()  # no worker thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def in_loop_connector(path: str) -> Callable[[], Any]:
    """What ``create_async_engine(async_creator=…)`` calls for a new connection to ``path``."""

    async def connect() -> InLoopConnection:
        connection = InLoopConnection(
            partial(sqlite3.connect, path, check_same_thread=False), iter_chunk_size=64
        )
        return await connection

    return connect

"""The database on the event loop's own thread, for the demo and the console.

aiosqlite runs every statement on a worker thread and hands the result back through the event
loop, and SQLAlchemy's asyncio layer switches greenlets twice for every statement on top of that:
together more than the statement itself costs SQLite, which is most of the time the demo spends
when ``/clock`` lives through a campaign of simulated colleagues (tens of thousands of
statements). The demo serves one person at a console, so its units of work run on a blocking
engine (SQLite's standard ``sqlite3`` driver, or psycopg's blocking connection on PostgreSQL:
same dialect, same statements) on the loop's thread: ``LoopSession`` is an ``AsyncSession``
whose busiest methods call that engine's session directly; the rest go through
``AsyncSession``'s own code, which works unchanged over it. ``uplift run`` keeps the asyncio
drivers: there a slow statement must not hold up the answers to everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from storage.urls import sync_url


def loop_engine(url: str, *, echo: bool = False, **pool: Any) -> Engine:
    """A blocking engine on the database of ``url`` (SQLite's standard driver, or psycopg's
    blocking one), used from the event loop's thread and from no other: a report's sheet, written
    in a worker thread, asks the loop for its rows."""
    blocking = sync_url(url)
    sqlite = blocking.get_backend_name() == "sqlite"
    connect_args = {"check_same_thread": False} if sqlite else {}
    return create_engine(blocking, echo=echo, connect_args=connect_args, **pool)


class LoopSession(AsyncSession):
    """An ``AsyncSession`` over a blocking session on ``bind`` (a ``loop_engine``): what the
    repositories call most runs at once, with no greenlet and no worker thread."""

    def __init__(self, bind: Engine, **options: Any) -> None:
        super().__init__()
        self.sync_session = self._proxied = self._assign_proxied(Session(bind=bind, **options))

    async def execute(self, statement: Any, params: Any = None, **options: Any) -> Any:
        return self.sync_session.execute(statement, params, **options)

    async def scalar(self, statement: Any, params: Any = None, **options: Any) -> Any:
        return self.sync_session.scalar(statement, params, **options)

    async def scalars(self, statement: Any, params: Any = None, **options: Any) -> Any:
        return self.sync_session.scalars(statement, params, **options)

    async def get(self, entity: Any, ident: Any, **options: Any) -> Any:
        return self.sync_session.get(entity, ident, **options)

    async def flush(self, objects: Any = None) -> None:
        self.sync_session.flush(objects)

    def begin(self) -> Any:
        return _Entered(self.sync_session.begin)

    def begin_nested(self) -> Any:
        return _Entered(self.sync_session.begin_nested)

    async def close(self) -> None:
        self.sync_session.close()


class _Entered:
    """A blocking session transaction (begun when entered, committed or rolled back on leaving,
    as ``with session.begin():`` does) for ``async with``."""

    def __init__(self, begin: Callable[[], SessionTransaction]) -> None:
        self._begin = begin
        self._transaction: SessionTransaction | None = None

    async def __aenter__(self) -> SessionTransaction:
        self._transaction = self._begin()
        return self._transaction.__enter__()

    async def __aexit__(self, *raised: Any) -> None:
        assert self._transaction is not None
        self._transaction.__exit__(*raised)

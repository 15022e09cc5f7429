"""The engine and the unit of work: one transaction per event and per scheduled job.

SQLite is the embedded default: WAL, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` so
two writers queue instead of failing half-way. PostgreSQL is the store for production.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.store import Store
from storage.urls import async_url, is_sqlite

SQLITE_BUSY_TIMEOUT_MS = 10_000


class Database:
    """Owns the engine; hands out one Store (one session) per transaction."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(async_url(url), echo=echo)
        if is_sqlite(url):
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def store(self) -> AsyncIterator[Store]:
        """One unit of work through the repositories: commits on success, rolls back on any
        error. This is how code outside ``storage/`` reads and writes."""
        async with self.transaction() as session:
            yield Store(session)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work on a raw session: for ``storage/`` itself and for tests."""
        async with self._sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE can be issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- what went wrong, in one line ----------------------------------------------------------------

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
_NO_TABLE = ("42P01",)  # PostgreSQL's undefined_table


@dataclass(frozen=True)
class DatabaseProblem:
    """Why the database cannot be used, short enough for one line of a command's output.

    ``kind`` is ``unreachable`` (no server, no such database, login refused, a file that cannot
    be opened), ``no_schema`` (reached, but ``uplift db upgrade`` never ran), ``bad_url`` or
    ``unsupported`` (a database other than SQLite and PostgreSQL: ``reason`` names it);
    ``url`` has its password hidden; ``reason`` is the driver's own first line."""

    kind: str
    url: str
    reason: str


def database_problem(error: BaseException, url: str) -> DatabaseProblem | None:
    """The database's part in ``error`` (or in what caused it), or None when it is not the
    database's: the command line prints one line for it instead of a traceback."""
    if _backend(url) not in (None, "sqlite", "postgresql", "postgres"):
        return DatabaseProblem("unsupported", hide_password(url), _backend(url) or "")
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, ArgumentError | NoSuchModuleError):
            return DatabaseProblem("bad_url", hide_password(url), _first_line(found))
        if isinstance(found, OperationalError | InterfaceError | ProgrammingError):
            kind = _kind(found)
            if isinstance(found, ProgrammingError) and kind != "no_schema":
                return None  # a statement the database refused: a bug, for the log
            return DatabaseProblem(kind, hide_password(url), _first_line(found.orig))
        found = found.__cause__ or found.__context__
    return None


def hide_password(url: str) -> str:
    """The URL as it may be shown: its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy reads: hide what looks like a password
        return _PASSWORD_IN_URL.sub(r"\1***@", url)


def _backend(url: str) -> str | None:
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        return None


def _kind(error: DBAPIError) -> str:
    state = getattr(error.orig, "sqlstate", None)
    text = str(error.orig)
    if state in _NO_TABLE or text.startswith("no such table"):
        return "no_schema"
    return "unreachable"


def _first_line(error: BaseException | None) -> str:
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[0].removeprefix("connection failed: ").rstrip(".")

"""The engine and the unit of work: one transaction per event and per scheduled job.

SQLite is the embedded default: WAL, foreign keys on, a busy timeout. A unit of work that writes
(``store()``) begins with ``BEGIN IMMEDIATE`` and, within this process, waits its turn on an
asyncio lock *before* it takes a connection: SQLite has one writer at a time, so a hundred
commands at once queue in memory instead of each holding a pooled connection while it spins on
the busy timeout (which ran the pool dry and ended in "database is locked"). A unit of work that
only reads (``reading()``) begins a deferred transaction: under WAL it runs beside the writer and
never waits for it. PostgreSQL is the store for production; there every unit of work takes a
pooled connection (sizes from the settings), and a reading one is a ``READ ONLY`` transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
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

from storage.inloop import LoopSession, loop_engine
from storage.store import Store
from storage.urls import async_url, is_sqlite

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
_READING = "uplift_reading"  # execution option marking a read-only unit of work
_QUERY_ONLY = "uplift_query_only"  # a SQLite connection's info: its query_only pragma as last set


@dataclass(frozen=True)
class PoolSettings:
    """How many connections a process keeps to the database and how long a unit of work waits for
    one. The defaults fit one instance answering a hundred commands at once: writes on SQLite
    queue before the pool, and on PostgreSQL a transaction holds its connection for
    milliseconds, so twenty connections serve a burst; several instances multiply them (keep
    their sum under the server's ``max_connections``)."""

    size: int = 10
    max_overflow: int = 10
    timeout: float = 30.0


class Database:
    """Owns the engine; hands out one Store (one session) per transaction."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool: PoolSettings | None = None,
        in_loop: bool = False,
    ) -> None:
        """``in_loop``: every statement on the event loop's thread, through a blocking driver
        (the demo, which serves one person; see ``storage/inloop.py``)."""
        self.url = url
        self.is_sqlite = is_sqlite(url)
        pool = pool or PoolSettings()
        options: dict[str, Any] = {}
        in_memory = self.is_sqlite and make_url(url).database in (None, "", ":memory:")
        if not in_memory:
            # (an in-memory SQLite database has one static connection: no pool to size)
            options.update(
                pool_size=pool.size, max_overflow=pool.max_overflow, pool_timeout=pool.timeout
            )
        self.engine: AsyncEngine = create_async_engine(async_url(url), echo=echo, **options)
        self._on_loop: Engine | None = (
            loop_engine(url, echo=echo, **options) if in_loop and not in_memory else None
        )
        if self.is_sqlite:
            _configure_sqlite(self.statement_engine)
        reading = {_READING: True, **({} if self.is_sqlite else {"postgresql_readonly": True})}
        if self._on_loop is not None:
            self._sessions = async_sessionmaker(
                self._on_loop, class_=LoopSession, expire_on_commit=False
            )
            self._read_sessions = async_sessionmaker(
                self._on_loop.execution_options(**reading),
                class_=LoopSession,
                expire_on_commit=False,
            )
        else:
            self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
            self._read_sessions = async_sessionmaker(
                self.engine.execution_options(**reading), expire_on_commit=False
            )
        # SQLite takes one writer at a time: writers of this process queue here, not in the pool.
        self._write_turn = asyncio.Lock() if self.is_sqlite else None
        self._writer: asyncio.Task[Any] | None = None  # the task whose turn it is
        self._turn_timeout = pool.timeout

    @asynccontextmanager
    async def store(self, *, write: bool = True) -> AsyncIterator[Store]:
        """One unit of work through the repositories: commits on success, rolls back on any
        error. This is how code outside ``storage/`` reads and writes; ``write=False`` is
        ``reading()``."""
        if not write:
            async with self.reading() as store:
                yield store
            return
        async with self.transaction() as session:
            yield Store(session)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Store]:
        """A unit of work that writes nothing (health, metrics, lookups, what is due): on SQLite a
        deferred transaction that runs beside the writer, on PostgreSQL a read-only one. A write
        in it fails (``attempt to write a readonly database`` / ``read-only transaction``)."""
        async with self._read_sessions() as session, session.begin():
            yield Store(session)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work on a raw session: for ``storage/`` itself and for tests."""
        async with self._write_turn_taken(), self._sessions() as session, session.begin():
            yield session

    @property
    def statement_engine(self) -> Engine:
        """The engine every statement goes through (to listen to its events): the blocking one
        on the loop's thread with ``in_loop``, else the asyncio engine's own."""
        return self._on_loop or self.engine.sync_engine

    def count_statements(self, count: Callable[[], None]) -> None:
        """Call ``count`` for every SQL statement this process sends (the queries metric)."""

        @event.listens_for(self.statement_engine, "before_cursor_execute")
        def _counted(*_args: Any) -> None:
            count()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._on_loop is not None:
            self._on_loop.dispose()

    @asynccontextmanager
    async def _write_turn_taken(self) -> AsyncIterator[None]:
        """On SQLite, wait for this process's writers before us. A unit of work opened inside
        another by the same task does not wait for itself (it would wait for ever), nor does one
        that waited longer than the pool's timeout (one opened by a task the holder waits for):
        both meet SQLite's busy timeout, as every writer did before."""
        task = asyncio.current_task()
        if self._write_turn is None or (task is not None and self._writer is task):
            yield
            return
        try:
            async with asyncio.timeout(self._turn_timeout):
                await self._write_turn.acquire()
        except TimeoutError:
            log.warning("database.write_turn_timeout seconds=%s", self._turn_timeout)
            turn = False
        else:
            turn = True
        if not turn:
            yield
            return
        self._writer = task
        try:
            yield
        finally:
            self._writer = None
            self._write_turn.release()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE can be issued.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reader must not write: a deferred transaction that later writes cannot wait for the
        # lock (SQLite answers "database is locked" at once), so query_only makes it fail plainly.
        # The pragma is sent only when it changes: most units of work on a connection are of
        # the same kind as the one before, and each statement costs the demo's clock.
        reading = bool(connection.get_execution_options().get(_READING))
        if connection.info.get(_QUERY_ONLY) is not reading:
            connection.exec_driver_sql(f"PRAGMA query_only = {int(reading)}")
            connection.info[_QUERY_ONLY] = reading
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


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


# PostgreSQL's "deadlock detected" and "could not serialize access": the transaction was rolled
# back because another one held what it needed; run again, it succeeds.
_CONTENTION_STATES = frozenset({"40P01", "40001"})


def is_contention(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL undoing a transaction that collided with another
    (a deadlock between two awards, say): nothing of it was kept, so it may be run again."""
    orig = getattr(error, "orig", None)
    return isinstance(error, DBAPIError) and getattr(orig, "sqlstate", None) in _CONTENTION_STATES


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

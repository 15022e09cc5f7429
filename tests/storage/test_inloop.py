"""The demo's SQLite on the event loop's thread: statements run at once on the caller's thread,
a reader still cannot write, and a streamed read works as on aiosqlite."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, select

from kernel import Role
from storage.database import Database
from storage.inloop import LoopSession
from storage.models import Organisation
from storage.store import Store

NOW = dt.datetime(2027, 3, 15, 0, 30, tzinfo=dt.UTC)


@pytest.fixture
async def on_loop(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(sqlite_url, in_loop=True)
    yield database
    await database.dispose()


async def test_statements_run_on_the_loops_own_thread(on_loop: Database) -> None:
    threads: set[int] = set()

    def seen(*_args: object) -> None:
        threads.add(threading.get_ident())

    event.listen(on_loop.statement_engine, "before_cursor_execute", seen)
    async with on_loop.transaction() as session:
        assert isinstance(session, LoopSession)
        session.add(Organisation(key="psbc", name_zh="邮储银行", name_en="PSBC", created_at=NOW))
        await session.flush()
        found = await session.scalar(select(Organisation.key))
    assert found == "psbc"
    assert threads == {threading.get_ident()}
    async with on_loop.reading() as store:
        assert [o.key for o in await store.units.organisations()] == ["psbc"]


async def test_a_reader_on_the_loop_cannot_write_and_a_writer_after_it_can(
    on_loop: Database,
) -> None:
    with pytest.raises(Exception, match="readonly"):
        async with on_loop.reading() as store:
            await store.members.add(
                organisation_id=1, unit_id=None, display_name="x", role=Role.STAFF, now=NOW
            )
    async with on_loop.transaction() as session:
        session.add(Organisation(key="abc", name_zh="农行", name_en="ABC", created_at=NOW))
    async with on_loop.transaction() as session:
        assert await session.scalar(select(Organisation.key)) == "abc"


async def test_a_streamed_read_comes_in_batches(on_loop: Database) -> None:
    async with on_loop.transaction() as session:
        for n in range(7):
            session.add(
                Organisation(key=f"o{n}", name_zh=f"单位{n}", name_en=f"O{n}", created_at=NOW)
            )
    async with on_loop.transaction() as session:
        result = await session.stream(
            select(Organisation.key).order_by(Organisation.key).execution_options(yield_per=3)
        )
        batches = [list(rows) async for rows in result.partitions(3)]
        await result.close()
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [row[0] for b in batches for row in b] == [f"o{n}" for n in range(7)]


async def test_a_failed_savepoint_undoes_its_own_work_and_a_failed_unit_of_work_all_of_it(
    on_loop: Database,
) -> None:
    async with on_loop.transaction() as session:
        session.add(Organisation(key="kept", name_zh="留", name_en="K", created_at=NOW))
        with pytest.raises(RuntimeError):
            async with Store(session).savepoint():
                session.add(Organisation(key="undone", name_zh="撤", name_en="U", created_at=NOW))
                await session.flush()
                raise RuntimeError("a job failed")
    with pytest.raises(RuntimeError):
        async with on_loop.transaction() as session:
            session.add(Organisation(key="lost", name_zh="失", name_en="L", created_at=NOW))
            await session.flush()
            raise RuntimeError("the event failed")
    async with on_loop.reading() as store:
        assert [o.key for o in await store.units.organisations()] == ["kept"]

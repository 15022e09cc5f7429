"""Awards that would collide on PostgreSQL take turns, and a unit of work PostgreSQL undoes for
colliding is run again: no event fails, no point is lost or counted twice.

Two instances (two dispatchers on one database) handle at once many events that each award
points to the same two people, half in one order and half in the other. Each award adds to both
people's and their unit's totals rows: without the campaign's awards lock (``Ledger``) the
transactions deadlock and PostgreSQL undoes them, more often than the dispatcher's runs again
(``CONTENTION_ATTEMPTS``, the safety net for collisions elsewhere) can absorb. Every event is
answered, every point is in the ledger once, and the totals agree with it. On SQLite (one writer
at a time) the same events simply wait their turn.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.dispatcher import Dispatcher, DispatcherSettings
from handlers.framework.context import Context
from handlers.framework.router import Router
from handlers.shared.calendar import local_date
from kernel import EVERYONE, ChatRef, Event, EventKind, MovableClock, Role, SenderRef
from storage.database import Database, is_contention
from storage.points import Award
from tests.harness import at, seat_people

NOW = at("2027-03-10 10:00")
PEOPLE = [("u-ann", "Ann", Role.STAFF), ("u-bo", "Bo", Role.STAFF)]
EVENTS = 24


async def _both(ctx: Context) -> None:
    """Award a point to each of the two people, in the order typed (``ann bo`` or ``bo ann``),
    with a pause between the two so that the transactions interleave."""
    assert ctx.member is not None and ctx.unit is not None
    campaign = await ctx.store.campaigns.current(ctx.member.organisation_id, NOW.date())
    assert campaign is not None
    ids = {}
    for user, name, _ in PEOPLE:
        found = await ctx.store.members.by_identity("console", "", user)
        assert found is not None
        ids[name.lower()] = found[0].id
    for name in ctx.event.args.split():
        await ctx.store.ledger.award(
            Award(
                campaign_id=campaign.id,
                unit_id=ctx.unit.id,
                member_id=ids[name],
                source="deed",
                rule="deed_approved",
                points=1,
                key=f"both:{ctx.event.event_id}:{name}",
                occurred_at=NOW,
                local_date=local_date(ctx.unit, NOW),
            )
        )
        await asyncio.sleep(0.01)  # the other transactions take their first rows meanwhile
    ctx.reply("errors/internal")  # any template: the test only counts answers


def _router() -> Router:
    router = Router()
    router.command("both", _both, roles=EVERYONE)
    return router


def _event(n: int) -> Event:
    order = "ann bo" if n % 2 else "bo ann"
    return Event(
        kind=EventKind.COMMAND,
        sender=SenderRef("console", "u-ann", locale="en"),
        chat=ChatRef("console", "u-ann", is_group=False),
        received_at=NOW,
        command="both",
        args=order,
        event_id=f"event-{n}",
    )


async def test_colliding_awards_are_run_again_and_every_point_counts_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = Database(db_url), Database(db_url)
    try:
        await seat_people(first, platform="console", chat="group", people=PEOPLE, now=NOW)
        dispatchers = [
            Dispatcher(db, _router(), MovableClock(NOW), DispatcherSettings("en"))
            for db in (first, second)
        ]
        with caplog.at_level(logging.WARNING, logger="bot.dispatcher"):
            outcomes = await asyncio.gather(
                *(dispatchers[n % 2].handle(_event(n)) for n in range(EVENTS))
            )
        answered = [o.replies[0].text.template for o in outcomes if o.replies[0].text]
        assert len(answered) == EVENTS
        failures = [r for r in caplog.records if r.getMessage().startswith("event.failed")]
        assert failures == [], "an event failed (a deadlock, say)"
        async with first.store() as store:
            assert await store.ledger.totals.disagreements() == []
            found = [await store.members.by_identity("console", "", u) for u, _, _ in PEOPLE]
            campaign = await store.campaigns.current(found[0][0].organisation_id, NOW.date())
            assert campaign is not None
            totals = [await store.ledger.member_total(campaign.id, f[0].id) for f in found if f]
        assert totals == [EVENTS, EVENTS]
    finally:
        await first.dispose()
        await second.dispose()


def test_only_postgresqls_collisions_count_as_contention() -> None:
    """A deadlock and a serialization failure are; a constraint violation or any other error
    is not (running it again would fail again, or hide a bug)."""
    import psycopg.errors
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    def wrapped(orig: Exception, kind: type[DBAPIError] = OperationalError) -> DBAPIError:
        return kind("statement", {}, orig)

    assert is_contention(wrapped(psycopg.errors.DeadlockDetected()))
    assert is_contention(wrapped(psycopg.errors.SerializationFailure()))
    assert not is_contention(wrapped(psycopg.errors.UniqueViolation(), IntegrityError))
    assert not is_contention(RuntimeError("deadlock detected"))
    assert not is_contention(wrapped(Exception("database is locked")))

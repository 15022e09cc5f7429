"""All repositories over one session: what a handler, a job or a command reads and writes through.

Code outside ``storage/`` gets a Store from ``Database.store()``, never a session: every write is a
repository method. Repositories never commit; the dispatcher wraps each event and the scheduler
each tick in one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from storage.campaigns import Campaigns
from storage.choice_lists import ChoiceLists
from storage.conversations import Conversations
from storage.deeds import Deeds
from storage.drills import Drills
from storage.events import ProcessedEvents
from storage.health import Health
from storage.inspections import Inspections
from storage.members import Invites, Members, Visitors
from storage.observations import Observations
from storage.outbox import Outbox
from storage.plans import Plans
from storage.points import Ledger
from storage.polls import Polls
from storage.rectifications import Rectifications
from storage.reminders import Reminders
from storage.reports import ReportRows
from storage.scheduler_marks import SchedulerMarks
from storage.selfchecks import SelfChecks
from storage.units import Units


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.members = Members(session)
        self.invites = Invites(session)
        self.visitors = Visitors(session)
        self.choice_lists = ChoiceLists(session)
        self.units = Units(session)
        self.campaigns = Campaigns(session)
        self.plans = Plans(session)
        self.events = ProcessedEvents(session)
        self.outbox = Outbox(session)
        self.conversations = Conversations(session)
        self.drills = Drills(session)
        self.ledger = Ledger(session)
        self.selfchecks = SelfChecks(session)
        self.rectifications = Rectifications(session)
        self.deeds = Deeds(session)
        self.observations = Observations(session)
        self.inspections = Inspections(session)
        self.reminders = Reminders(session)
        self.polls = Polls(session)
        self.reports = ReportRows(session)
        self.health = Health(session)
        self.scheduler_marks = SchedulerMarks(session)

    def hold_the_plan_still(self) -> None:
        """For the rest of this unit of work, read the campaigns, their stages and the units
        (and which have a chat) once: nothing in it changes them, and every job of a scheduler
        tick asks for them again (four queries a job, a dozen jobs a tick)."""
        self.campaigns.keep_answers()
        self.units.keep_answers()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Work that may fail on its own: an error undoes only what was done inside."""
        try:
            async with self._session.begin_nested():
                yield
        except BaseException:
            self.ledger.turns_undone()  # PostgreSQL let go of the locks taken inside
            self.conversations.forget()
            raise

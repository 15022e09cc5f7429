"""All repositories over one session: what a handler or a job reads and writes through.

Repositories never commit; the dispatcher wraps each event and each scheduled job in one
transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.campaigns import Campaigns
from storage.conversations import Conversations
from storage.deeds import Deeds
from storage.drills import Drills
from storage.events import ProcessedEvents
from storage.inspections import Inspections
from storage.invites import Invites, Polls
from storage.ledger import Ledger
from storage.members import Members
from storage.observations import Observations
from storage.outbox import Outbox
from storage.rectifications import Rectifications
from storage.reminders import Reminders
from storage.selfchecks import SelfChecks
from storage.units import Units


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.members = Members(session)
        self.units = Units(session)
        self.campaigns = Campaigns(session)
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
        self.invites = Invites(session)
        self.polls = Polls(session)

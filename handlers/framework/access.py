"""Authorising against the record: every id that arrives from outside (a button's value, a form
field, a poll answer, a number typed after a command) is loaded here, and only if the record
belongs to the sender's organisation and to the units their role covers.

What the sender may not see is answered exactly like what does not exist ("that button is no
longer valid"), so ids of other organisations cannot be probed. Handlers never load such a record
from the store directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel import Refusal, Role, number
from storage.models import (
    Deed,
    Drill,
    JoinRequest,
    Member,
    Observation,
    Rectification,
    SelfCheckRun,
    Unit,
)

if TYPE_CHECKING:
    from handlers.framework.context import Context

STALE = "errors/stale_button"


class Access:
    """The records a sender may act on, by id."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @property
    def _member(self) -> Member:
        if self._ctx.member is None:
            raise Refusal(STALE)
        return self._ctx.member

    async def covered_unit_ids(self) -> list[int]:
        """The units the sender's role covers: the whole organisation for an admin, their own
        unit and the units below it for anyone else, and none for a member without a unit."""
        member = self._member
        store = self._ctx.store
        if member.role == Role.ADMIN:
            return [u.id for u in await store.units.of_organisation(member.organisation_id)]
        if member.unit_id is None:
            return []
        return await store.units.subtree_ids(member.unit_id)

    async def unit(self, unit_id: int | str, *, anywhere: bool = False) -> Unit:
        """A unit the sender covers; with ``anywhere``, any unit of their organisation (an
        observation may be about any outlet)."""
        unit = await self._ctx.store.units.get(_id(unit_id))
        if unit is None or unit.organisation_id != self._member.organisation_id:
            raise Refusal(STALE)
        if not anywhere and unit.id not in await self.covered_unit_ids():
            raise Refusal(STALE)
        return unit

    async def drill(self, drill_id: int | str) -> Drill:
        """A drill of the sender's own unit: people answer their own unit's drill only."""
        drill = await self._ctx.store.drills.get(_id(drill_id))
        if drill is None or drill.unit_id != self._member.unit_id:
            raise Refusal(STALE)
        return drill

    async def selfcheck_run(self, run_id: int | str) -> SelfCheckRun:
        """One of the sender's own self-check runs."""
        run = await self._ctx.store.selfchecks.run(_id(run_id))
        if run is None or run.member_id != self._member.id:
            raise Refusal(STALE)
        return run

    async def rectification(
        self, rectification_id: int | str, refusal: str = STALE
    ) -> Rectification:
        """A rectification of a unit the sender covers."""
        found = await self._ctx.store.rectifications.get(_id(rectification_id, refusal))
        if found is None or found.unit_id not in await self.covered_unit_ids():
            raise Refusal(refusal, number=rectification_id)
        return found

    async def deed(self, deed_id: int | str) -> Deed:
        """A good deed reported in a unit the sender covers."""
        deed = await self._ctx.store.deeds.get(_id(deed_id))
        if deed is None or deed.unit_id not in await self.covered_unit_ids():
            raise Refusal(STALE)
        return deed

    async def observation(self, observation_id: int | str) -> Observation:
        """An observation about a unit the sender covers, or escalated to one."""
        found = await self._ctx.store.observations.get(_id(observation_id))
        covered = await self.covered_unit_ids()
        if found is None or not (
            found.unit_id in covered or (found.escalated_to_unit_id or 0) in covered
        ):
            raise Refusal(STALE)
        return found

    async def join_request(self, request_id: int | str) -> JoinRequest:
        """A stranger's request to join a unit the sender covers."""
        request = await self._ctx.store.members.join_request(_id(request_id))
        if (
            request is None
            or request.organisation_id != self._member.organisation_id
            or request.unit_id not in await self.covered_unit_ids()
        ):
            raise Refusal(STALE)
        return request

    async def colleague(self, member_id: int | str) -> Member:
        """An active member of the sender's organisation who takes part (not a volunteer):
        someone a deed may name or praise may credit."""
        person = await self._ctx.store.members.get(_id(member_id))
        if (
            person is None
            or not person.active
            or person.organisation_id != self._member.organisation_id
            or person.role == Role.VOLUNTEER
        ):
            raise Refusal(STALE)
        return person


def _id(value: int | str, refusal: str = STALE) -> int:
    return value if isinstance(value, int) else number(value, refusal)

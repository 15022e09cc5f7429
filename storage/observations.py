"""Queries for observations (监督意见): reporting, claiming under first-question responsibility
(首问负责制), closing within the time limit (限期办结), escalation and the observer's rating."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Observation, Unit

# Asked every scheduler tick: built once (building it cost more than running it).
_LEVEL = aliased(Unit)
_OVERDUE = (
    select(Observation)
    .join(_LEVEL, _LEVEL.id == func.coalesce(Observation.escalated_to_unit_id, Observation.unit_id))
    .where(
        Observation.status != "closed",
        Observation.due_at <= bindparam("now"),
        _LEVEL.parent_id.is_not(None),
    )
    .order_by(Observation.id)
)


class Observations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        campaign_id: int,
        unit_id: int,
        observer_member_id: int | None,
        kind: str,
        text: str,
        anonymous: bool,
        due_at: dt.datetime,
        now: dt.datetime,
    ) -> Observation:
        observation = Observation(
            campaign_id=campaign_id,
            unit_id=unit_id,
            observer_member_id=observer_member_id,
            kind=kind,
            text=text,
            anonymous=anonymous,
            status="open",
            due_at=due_at,
            created_at=now,
        )
        self._session.add(observation)
        await self._session.flush()
        return observation

    async def get(self, observation_id: int) -> Observation | None:
        return await self._session.get(Observation, observation_id)

    async def claim(self, observation_id: int, member_id: int, now: dt.datetime) -> bool:
        """The first to claim owns it; False if someone was first."""
        result = await self._session.execute(
            update(Observation)
            .where(Observation.id == observation_id, Observation.status == "open")
            .values(status="claimed", claimed_by_member_id=member_id, claimed_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return (result.rowcount or 0) == 1

    async def rate(self, observation_id: int, observer_id: int, rating: int) -> bool:
        """The observer's satisfaction (满意度), once; False if already rated."""
        result = await self._session.execute(
            update(Observation)
            .where(
                Observation.id == observation_id,
                Observation.observer_member_id == observer_id,
                Observation.status == "closed",
                Observation.rating.is_(None),
            )
            .values(rating=rating)
            .execution_options(synchronize_session="fetch")
        )
        return (result.rowcount or 0) == 1

    @staticmethod
    def close(
        observation: Observation,
        resolution: str,
        by_member_id: int,
        now: dt.datetime,
        praised_member_id: int | None = None,
    ) -> None:
        observation.status = "closed"
        observation.resolution = resolution
        observation.closed_by_member_id = by_member_id
        observation.closed_at = now
        observation.praised_member_id = praised_member_id

    @staticmethod
    def attach_photo(observation: Observation, photo_ref: str) -> None:
        observation.photo_ref = photo_ref

    @staticmethod
    def escalate(observation: Observation, to_unit_id: int) -> None:
        observation.escalated_to_unit_id = to_unit_id
        observation.escalation_count += 1

    async def not_closed_in(self, unit_ids: list[int]) -> list[Observation]:
        rows = await self._session.scalars(
            select(Observation)
            .where(
                (Observation.unit_id.in_(unit_ids))
                | (Observation.escalated_to_unit_id.in_(unit_ids)),
                Observation.status != "closed",
            )
            .order_by(Observation.due_at, Observation.id)
        )
        return list(rows)

    async def of_observer(self, member_id: int, limit: int = 20) -> list[Observation]:
        rows = await self._session.scalars(
            select(Observation)
            .where(Observation.observer_member_id == member_id)
            .order_by(Observation.created_at.desc(), Observation.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def overdue(self, now: dt.datetime) -> list[Observation]:
        """Open observations past their limit that can still go up a level: one already at the
        top of its unit tree stays there (and is not read again every tick)."""
        return list(await self._session.scalars(_OVERDUE, {"now": now}))

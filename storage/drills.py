"""Queries for morning drills (晨会演练): the day's drill per unit, answers, and item history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.kept import keep_loaded
from storage.models import Campaign, Drill, DrillAnswer, DrillItem
from storage.upsert import insert_once


@dataclass(frozen=True)
class ItemHistory:
    """How a unit has done on one drill item: when it was last asked and how often it was right."""

    last_asked: dt.date
    answers: int
    correct: int
    times_asked: int = 1

    @property
    def correct_rate(self) -> float | None:
        return self.correct / self.answers if self.answers else None


# Asked with every drill answered (and by the demo's colleagues every step): built once, as
# building them cost more than running them.
_DRILL_ITEM_CAMPAIGN = (
    select(Drill, DrillItem, Campaign)
    .join(DrillItem, DrillItem.id == Drill.drill_item_id)
    .join(Campaign, Campaign.id == Drill.campaign_id)
    .where(Drill.id == bindparam("drill_id"))
)
_ANSWERED_DATES = (
    select(Drill.local_date)
    .join(DrillAnswer, DrillAnswer.drill_id == Drill.id)
    .where(DrillAnswer.member_id == bindparam("member_id"), Drill.local_date >= bindparam("since"))
)
_OPEN_AT = (
    select(Drill, DrillItem)
    .join(DrillItem, DrillItem.id == Drill.drill_item_id)
    .where(
        Drill.unit_id == bindparam("unit_id"),
        Drill.opens_at <= bindparam("moment"),
        Drill.closes_at >= bindparam("moment"),
    )
    .order_by(Drill.local_date)
)


class Drills:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def items(self, campaign_id: int) -> list[DrillItem]:
        rows = await self._session.scalars(
            select(DrillItem)
            .where(DrillItem.campaign_id == campaign_id, DrillItem.active)
            .order_by(DrillItem.position)
        )
        return list(rows)

    async def item(self, item_id: int) -> DrillItem | None:
        return await self._session.get(DrillItem, item_id)

    async def get(self, drill_id: int) -> Drill | None:
        """The drill, its item and its campaign read in one statement: whoever opens a drill
        asks for the other two next (``item`` and ``Campaigns.get`` then find them loaded)."""
        row = (await self._session.execute(_DRILL_ITEM_CAMPAIGN, {"drill_id": drill_id})).first()
        if row is None:
            return None
        keep_loaded(self._session, row[1], row[2])
        return row[0]

    async def on(self, unit_id: int, local_date: dt.date) -> Drill | None:
        return await self._session.scalar(
            select(Drill).where(Drill.unit_id == unit_id, Drill.local_date == local_date)
        )

    async def on_day(self, unit_ids: Sequence[int], local_date: dt.date) -> dict[int, Drill]:
        """Each unit's drill for the day, where one exists (one query for many units)."""
        if not unit_ids:
            return {}
        rows = await self._session.scalars(
            select(Drill).where(Drill.unit_id.in_(unit_ids), Drill.local_date == local_date)
        )
        return {drill.unit_id: drill for drill in rows}

    async def histories(self, unit_ids: Sequence[int]) -> dict[int, dict[int, ItemHistory]]:
        """``history`` of many units at once (one query): the morning tick's."""
        if not unit_ids:
            return {}
        rows = await self._session.execute(
            select(
                Drill.unit_id,
                Drill.drill_item_id,
                func.max(Drill.local_date),
                func.count(DrillAnswer.id),
                func.coalesce(func.sum(case((DrillAnswer.correct, 1), else_=0)), 0),
                func.count(func.distinct(Drill.id)),
            )
            .outerjoin(DrillAnswer, DrillAnswer.drill_id == Drill.id)
            .where(Drill.unit_id.in_(unit_ids))
            .group_by(Drill.unit_id, Drill.drill_item_id)
        )
        found: dict[int, dict[int, ItemHistory]] = {unit_id: {} for unit_id in unit_ids}
        for unit_id, item_id, last, answers, correct, asked in rows.all():
            found[unit_id][item_id] = ItemHistory(
                _as_date(last), int(answers), int(correct), int(asked)
            )
        return found

    async def create_once(
        self,
        *,
        campaign_id: int,
        unit_id: int,
        item_id: int,
        local_date: dt.date,
        opens_at: dt.datetime,
        closes_at: dt.datetime,
    ) -> Drill:
        """The unit's drill for the day: created once, whoever asks first (the push or /drill).
        The one just created is returned as written, without reading it back (the morning tick
        creates one per unit); one that was there is read."""
        values = {
            "campaign_id": campaign_id,
            "unit_id": unit_id,
            "drill_item_id": item_id,
            "local_date": local_date,
            "opens_at": opens_at,
            "closes_at": closes_at,
        }
        new_id = await insert_once(self._session, Drill, values, ("unit_id", "local_date"))
        if new_id is not None:
            return Drill(id=new_id, **values)
        drill = await self.on(unit_id, local_date)
        assert drill is not None
        return drill

    async def history(self, unit_id: int) -> dict[int, ItemHistory]:
        """Per drill item: the last day the unit was asked it, and its answers and right ones."""
        return (await self.histories([unit_id]))[unit_id]

    async def record_answer(
        self,
        *,
        drill_id: int,
        member_id: int,
        correct: bool,
        answered_at: dt.datetime,
        choice: int | None = None,
        answer_text: str | None = None,
        self_rating: int | None = None,
    ) -> int | None:
        """Keep the first answer only: returns the new answer's id, or None if one existed."""
        return await insert_once(
            self._session,
            DrillAnswer,
            {
                "drill_id": drill_id,
                "member_id": member_id,
                "choice": choice,
                "answer_text": answer_text,
                "self_rating": self_rating,
                "correct": correct,
                "answered_at": answered_at,
            },
            ("drill_id", "member_id"),
        )

    async def answer_of(self, drill_id: int, member_id: int) -> DrillAnswer | None:
        return await self._session.scalar(
            select(DrillAnswer).where(
                DrillAnswer.drill_id == drill_id, DrillAnswer.member_id == member_id
            )
        )

    async def answered_dates(self, member_id: int, since: dt.date) -> set[dt.date]:
        """The local dates of the drills a member answered, from ``since`` on (for streaks)."""
        rows = await self._session.scalars(
            _ANSWERED_DATES, {"member_id": member_id, "since": since}
        )
        return {_as_date(day) for day in rows}

    async def open_at(
        self, unit_id: int, moment: dt.datetime
    ) -> list[tuple[Drill, DrillItem, set[int]]]:
        """Drills of a unit open for answers now, and who has answered each (the demo's
        colleagues answer them)."""
        rows = await self._session.execute(_OPEN_AT, {"unit_id": unit_id, "moment": moment})
        found = [(drill, item) for drill, item in rows.all()]
        if not found:
            return []
        answers = await self._session.execute(
            select(DrillAnswer.drill_id, DrillAnswer.member_id).where(
                DrillAnswer.drill_id.in_([drill.id for drill, _ in found])
            )
        )
        answered: dict[int, set[int]] = {}
        for drill_id, member_id in answers.all():
            answered.setdefault(drill_id, set()).add(member_id)
        return [(drill, item, answered.get(drill.id, set())) for drill, item in found]


def _as_date(value: dt.date | str) -> dt.date:
    """SQLite returns aggregated dates as text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)

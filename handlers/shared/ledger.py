"""Writing points: every scoring event becomes one ledger row with its rule and a unique key."""

from __future__ import annotations

import datetime as dt

from handlers.shared.calendar import local_date
from storage.models import Campaign, Unit
from storage.points import Award
from storage.store import Store


async def award_points(
    store: Store,
    *,
    campaign: Campaign,
    unit: Unit,
    member_id: int | None,
    source: str,
    rule: str,
    points: int,
    key: str,
    at: dt.datetime,
    ref: tuple[str, int] | None = None,
) -> bool:
    """Write the points once (False if ``key`` was written before); zero points write nothing."""
    if points == 0:
        return False
    return await store.ledger.award(
        Award(
            campaign_id=campaign.id,
            unit_id=unit.id,
            member_id=member_id,
            source=source,
            rule=rule,
            points=points,
            key=key,
            occurred_at=at,
            local_date=local_date(unit, at),
            ref_table=ref[0] if ref else None,
            ref_id=ref[1] if ref else None,
        )
    )

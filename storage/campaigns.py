"""Queries about campaigns, their stages, checklists and drill bank."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Campaign, Stage


class Campaigns:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._kept: dict[tuple[object, ...], list[Any]] | None = None

    def keep_answers(self) -> None:
        """Answer the same question the same way for the rest of this unit of work (a scheduler
        tick, where every job asks which campaigns and stages there are)."""
        self._kept = {}

    async def get(self, campaign_id: int) -> Campaign | None:
        return await self._session.get(Campaign, campaign_id)

    async def by_key(self, organisation_id: int, key: str) -> Campaign | None:
        return await self._session.scalar(
            select(Campaign).where(Campaign.organisation_id == organisation_id, Campaign.key == key)
        )

    async def current(self, organisation_id: int, on: dt.date) -> Campaign | None:
        """The campaign running on ``on``; else the next to start; else the last one."""
        campaigns = list(
            await self._session.scalars(
                select(Campaign)
                .where(Campaign.organisation_id == organisation_id)
                .order_by(Campaign.starts_on, Campaign.id)
            )
        )
        running = [c for c in campaigns if c.starts_on <= on <= c.ends_on]
        upcoming = [c for c in campaigns if c.starts_on > on]
        if running:
            return running[-1]
        if upcoming:
            return upcoming[0]
        return campaigns[-1] if campaigns else None

    async def stages(self, campaign_id: int) -> list[Stage]:
        if self._kept is not None and ("stages", campaign_id) in self._kept:
            return list(self._kept["stages", campaign_id])
        rows = list(
            await self._session.scalars(
                select(Stage)
                .where(Stage.campaign_id == campaign_id, Stage.active)
                .order_by(Stage.position)
            )
        )
        if self._kept is not None:
            self._kept["stages", campaign_id] = rows
        return list(rows)

    async def stage_on(self, campaign_id: int, on: dt.date) -> Stage | None:
        return await self._session.scalar(
            select(Stage).where(
                Stage.campaign_id == campaign_id,
                Stage.active,
                Stage.starts_on <= on,
                Stage.ends_on >= on,
            )
        )

    async def overlapping(self, first: dt.date, last: dt.date) -> list[Campaign]:
        """Every campaign running on some day between ``first`` and ``last`` (all tenants)."""
        if self._kept is not None and ("overlapping", first, last) in self._kept:
            return list(self._kept["overlapping", first, last])
        rows = list(
            await self._session.scalars(
                select(Campaign)
                .where(Campaign.starts_on <= last, Campaign.ends_on >= first)
                .order_by(Campaign.id)
            )
        )
        if self._kept is not None:
            self._kept["overlapping", first, last] = rows
        return list(rows)

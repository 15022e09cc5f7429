"""Typed access to a loaded campaign's rules (the plan is stored as validated JSON), and the
(campaign, stage, unit) combinations a scheduler window concerns."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from campaigns.schema import Deadlines, Points
from kernel import Window
from storage.models import Campaign, Stage, Unit
from storage.store import Store


def points_of(campaign: Campaign) -> Points:
    return Points.model_validate(campaign.plan.get("scoring", {}).get("points", {}))


def group_leaders_of(campaign: Campaign) -> int:
    """How many of the week's leaders a group chat may see by name."""
    return int(campaign.plan.get("scoring", {}).get("group_leaders", 5))


def deadlines_of(campaign: Campaign) -> Deadlines:
    return Deadlines.model_validate(campaign.plan.get("deadlines", {}))


def awards_day(campaign: Campaign, stages: list[Stage]) -> dt.date | None:
    """The day award suggestions go out (评选): the plan's ``scoring.awards_on``, else the first
    day of its summary stage; None when the plan has neither."""
    named = campaign.plan.get("scoring", {}).get("awards_on")
    if named:
        return dt.date.fromisoformat(str(named))
    return next((s.starts_on for s in stages if s.is_summary), None)


async def stage_units(
    store: Store, window: Window, *, with_chat: bool = True
) -> AsyncIterator[tuple[Campaign, Stage, Unit, dt.timedelta]]:
    """Every (campaign, stage, unit, grace) the window could concern; units with a chat only,
    unless ``with_chat`` is False."""
    async for campaign, stages, unit, grace in campaign_units(store, window, with_chat=with_chat):
        for stage in stages:
            yield campaign, stage, unit, grace


async def campaign_units(
    store: Store, window: Window, *, with_chat: bool = True
) -> AsyncIterator[tuple[Campaign, list[Stage], Unit, dt.timedelta]]:
    """Every (campaign, its stages, unit, grace) the window could concern, for pushes planned
    once per campaign (awards, the closing summary); units with a chat only, unless
    ``with_chat`` is False."""
    first = window.since.date() - dt.timedelta(days=40)
    last = window.until.date() + dt.timedelta(days=40)
    for campaign in await store.campaigns.overlapping(first, last):
        grace = dt.timedelta(minutes=deadlines_of(campaign).push_grace_minutes)
        stages = await store.campaigns.stages(campaign.id)
        units = (
            await store.units.with_chats(campaign.organisation_id)
            if with_chat
            else await store.units.of_organisation(campaign.organisation_id)
        )
        for unit in units:
            yield campaign, stages, unit, grace

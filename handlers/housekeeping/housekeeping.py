"""Housekeeping: forget what is kept only for a while: processed platform event ids once no
platform would retry them, and long choice lists once no form can still be open."""

from __future__ import annotations

import datetime as dt

from kernel import Window
from storage.store import Store

KEEP_EVENT_IDS = dt.timedelta(days=7)  # platforms retry within minutes; a week is ample
KEEP_CHOICE_LISTS = dt.timedelta(days=2)  # a form left open over a weekend is stale anyway


async def forget_old_event_ids(store: Store, window: Window) -> None:
    """Once an hour (when the window crosses the hour), not every tick: what is forgotten is
    kept for days anyway, and an idle tick should cost next to nothing."""
    if window.looking_ahead or _hour(window.since) == _hour(window.until):
        return
    await store.events.forget_before(window.until - KEEP_EVENT_IDS)
    await store.choice_lists.forget_before(window.until - KEEP_CHOICE_LISTS)


def _hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)

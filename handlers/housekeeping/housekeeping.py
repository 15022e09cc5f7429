"""Housekeeping: forget processed platform event ids once no platform would retry them."""

from __future__ import annotations

import datetime as dt

from kernel import Window
from storage.store import Store

KEEP_EVENT_IDS = dt.timedelta(days=7)  # platforms retry within minutes; a week is ample


async def forget_old_event_ids(store: Store, window: Window) -> None:
    await store.events.forget_before(window.until - KEEP_EVENT_IDS)

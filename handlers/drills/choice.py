"""Which drill item a unit gets today: spaced repetition over the unit's own history.

Items the unit got wrong come back after a couple of days, half-known ones after a week, and
mastered ones only after a fortnight; new items fill the days in between."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from storage.drills import ItemHistory

WEAK_BELOW = 0.6
MASTERED_FROM = 0.85
INTERVAL_DAYS = {"weak": 2, "learning": 5, "mastered": 14, "unanswered": 3}


class Item(Protocol):
    id: int
    position: int


def interval_for(history: ItemHistory) -> int:
    """Days before an item comes back. A weak item comes back soon, but each time it has been
    asked adds to the wait, so two stubborn items cannot crowd out every new one."""
    rate = history.correct_rate
    if rate is None:
        return INTERVAL_DAYS["unanswered"]
    if rate < WEAK_BELOW:
        return INTERVAL_DAYS["weak"] * max(1, history.times_asked)
    if rate < MASTERED_FROM:
        return INTERVAL_DAYS["learning"]
    return INTERVAL_DAYS["mastered"]


T = TypeVar("T", bound=Item)


def choose_item(items: Sequence[T], history: Mapping[int, ItemHistory], today: dt.date) -> T:
    """Today's item: a weak item that is due, else a new one, else the most overdue."""
    if not items:
        raise ValueError("the drill bank is empty")

    def overdue(item: T) -> int:
        past = history[item.id]
        return (today - past.last_asked).days - interval_for(past)

    asked = [item for item in items if item.id in history]
    weak_due = [
        item
        for item in asked
        if (history[item.id].correct_rate or 0) < WEAK_BELOW and overdue(item) >= 0
    ]
    if weak_due:
        return max(weak_due, key=lambda item: (overdue(item), -item.position))
    new = [item for item in items if item.id not in history]
    if new:
        return min(new, key=lambda item: item.position)
    return max(
        asked,
        key=lambda item: (overdue(item), -(history[item.id].correct_rate or 0), -item.position),
    )

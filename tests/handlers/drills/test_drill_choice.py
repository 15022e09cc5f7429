"""Which drill item a unit gets: spaced repetition over the unit's own history.

New items come in the bank's order; items the unit got wrong (correct rate below 0.6) come back
after two days, ahead of new ones; mastered items (0.85 and up) not for a fortnight; once every
item has been asked, the most overdue comes next."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from handlers.drills.choice import INTERVAL_DAYS, choose_item, interval_for
from storage.drills import ItemHistory

TODAY = dt.date(2027, 3, 15)


@dataclass(frozen=True)
class Item:
    id: int
    position: int


BANK = [Item(id=100 + n, position=n) for n in range(1, 7)]  # ids 101…106, positions 1…6


def asked(days_ago: int, answers: int, correct: int) -> ItemHistory:
    return ItemHistory(TODAY - dt.timedelta(days=days_ago), answers, correct)


def test_new_items_come_in_position_order() -> None:
    assert choose_item(BANK, {}, TODAY).id == 101
    assert choose_item(BANK, {101: asked(1, 5, 5)}, TODAY).id == 102
    history = {101: asked(3, 5, 5), 102: asked(2, 5, 4), 103: asked(1, 5, 5)}
    assert choose_item(BANK, history, TODAY).id == 104


def test_new_items_come_in_position_order_whatever_order_they_are_given_in() -> None:
    shuffled = [BANK[4], BANK[2], BANK[5], BANK[0], BANK[3], BANK[1]]
    assert choose_item(shuffled, {}, TODAY).id == 101
    assert choose_item(shuffled, {101: asked(1, 5, 5)}, TODAY).id == 102


def test_a_weak_item_comes_back_after_two_days_ahead_of_new_items() -> None:
    weak = 2 / 5  # below 0.6
    assert weak < 0.6
    yesterday = {101: asked(1, 5, 2)}
    assert choose_item(BANK, yesterday, TODAY).id == 102  # not yet due: a new item
    two_days = {101: asked(2, 5, 2), 102: asked(1, 5, 5)}
    assert choose_item(BANK, two_days, TODAY).id == 101
    # Exactly at the weak boundary: 3 of 5 is 0.6, no longer weak, so new items come first.
    not_weak = {101: asked(2, 5, 3), 102: asked(1, 5, 5)}
    assert choose_item(BANK, not_weak, TODAY).id == 103


def test_of_two_weak_items_due_the_most_overdue_comes_first() -> None:
    history = {101: asked(3, 5, 1), 102: asked(5, 5, 0), 103: asked(1, 5, 0)}
    assert choose_item(BANK, history, TODAY).id == 102
    # Equally overdue: the earlier position.
    history = {101: asked(4, 5, 1), 102: asked(4, 5, 0)}
    assert choose_item(BANK, history, TODAY).id == 101


def test_a_mastered_item_does_not_come_back_for_fourteen_days() -> None:
    mastered = {101: asked(13, 20, 18)}  # 0.9
    assert interval_for(mastered[101]) == INTERVAL_DAYS["mastered"] == 14
    only = [BANK[0]]
    # Alone in the bank it is the only choice, but beside anything else it waits 14 days.
    pair = [BANK[0], BANK[1]]
    learning = {102: asked(5, 10, 7)}  # 0.7: back after five days
    assert choose_item(pair, mastered | learning, TODAY).id == 102
    assert choose_item(pair, {101: asked(14, 20, 18), 102: asked(4, 10, 7)}, TODAY).id == 101
    assert choose_item(only, mastered, TODAY).id == 101
    # New items come before a mastered one, even long after.
    assert choose_item(BANK, {101: asked(40, 20, 19)}, TODAY).id == 102


@pytest.mark.parametrize(
    ("answers", "correct", "interval"),
    [(5, 2, 2), (5, 3, 5), (20, 16, 5), (20, 17, 14), (4, 4, 14), (0, 0, 3)],
)
def test_intervals_by_correct_rate(answers: int, correct: int, interval: int) -> None:
    assert interval_for(asked(0, answers, correct)) == interval


def test_with_everything_asked_the_most_overdue_comes_next() -> None:
    history = {
        101: asked(15, 20, 19),  # mastered, 1 day overdue
        102: asked(4, 10, 7),  # learning, 1 day early
        103: asked(1, 5, 1),  # weak, 1 day early
        104: asked(8, 10, 8),  # learning, 3 days overdue
        105: asked(2, 10, 9),  # mastered, far from due
        106: asked(9, 10, 6),  # learning, 4 days overdue
    }
    assert choose_item(BANK, history, TODAY).id == 106
    del history[106]
    assert choose_item(BANK[:5], history, TODAY).id == 104
    # Nothing overdue at all: the one nearest to being due still comes.
    early = {101: asked(1, 10, 10), 102: asked(1, 10, 7), 103: asked(1, 10, 1)}
    assert choose_item(BANK[:3], early, TODAY).id == 103


def test_an_empty_bank_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        choose_item([], {}, TODAY)

"""An observer who missed the rating prompt rates the handling later, from /observe mine."""

from __future__ import annotations

import re
from pathlib import Path

from campaigns.schema import Plan
from storage.models import Observation
from tests.harness import open_office, rows, said

START = "2027-01-11 09:00"  # a Monday in stage 1


def number_of(out: str, label: str) -> str:
    found = re.search(rf"^  \[(\d+)\] {re.escape(label)}$", out, re.MULTILINE)
    assert found is not None, f"{label!r} is not offered in:\n{out}"
    return found[1]


async def test_a_missed_rating_is_offered_again_in_observe_mine(plan: Plan, demo_db: Path) -> None:
    async with open_office(plan, demo_db, locale="zh", start=START) as here:
        chen = here.chat("colleague-4")  # 陈静, the outlet's supervisor
        units = await here.you("/observe")
        kinds = await here.you(number_of(units, "人民路网点"))
        await here.you(number_of(kinds, "投诉"), "门口的灯坏了", "1")
        notice = await here.say(chen)  # what reached her chat
        closing = await here.say(chen, number_of(notice, "🙋 我来负责"))
        await here.say(chen, number_of(closing, "✅ 办结"), "已经换了新灯")
        missed = here.bot.console.take_transcript()  # the prompt came while away: not answered
        assert "对处理结果满意吗" in missed

        mine = await here.you("/observe mine")
        offer = said("observations/rate_later", "zh", number=1, resolution="已经换了新灯")
        assert offer in mine
        assert await here.you(number_of(mine, "4")) == said("observations/rated", "zh", rating=4)
        assert "你还没有评价" not in await here.you("/observe mine")
    [observation] = await rows(here, Observation)
    assert (observation.status, observation.rating) == ("closed", 4)

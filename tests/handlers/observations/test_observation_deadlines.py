"""Deadlines of observations as people see them (in Chinese): an escalated observation that
nobody claimed tells the supervisors it reached to claim it and by when it goes higher, tells
the observer where it went, and claiming it after its deadline says it is overdue instead of
showing a past time as the time to close it by."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from campaigns.schema import Plan
from kernel import EventKind, Role
from tests.harness import at, open_office, private, said

ZONE = "Asia/Shanghai"
START = "2027-01-11 07:00"  # a Monday in stage 1


async def test_an_unclaimed_escalation_says_what_to_do_and_a_late_claim_is_overdue(
    plan: Plan, demo_db: Path
) -> None:
    async with open_office(plan, demo_db, role=Role.SUPERVISOR, locale="zh", start=START) as here:
        await here.add("vera", "志愿者小维", Role.VOLUNTEER, None)
        await here.add("paul", "城东主管", Role.SUPERVISOR, "chengdong")
        vera, paul = here.chat("vera"), here.chat("paul")
        out = await here.say(vera, "/observe")
        renmin = re.search(r"\[(\d+)\] 人民路网点$", out, re.MULTILINE)
        assert renmin is not None, out
        await here.say(vera, renmin[1], "2", "大厅地面湿滑没有提示", "1")
        await here.say(vera, "没有照片")
        vera.take_transcript()
        due = at(START) + dt.timedelta(hours=plan.deadlines.observation_close_hours)

        # Nobody claims it: an hour past its deadline it goes up to the sub-branch.
        await here.jump(due + dt.timedelta(hours=1))
        notice = paul.take_transcript()
        assert notice.startswith(f"{private('paul', 'zh')}\n⚠️ 监督意见 #1(人民路网点)超过办结期限")
        expected = said(
            "observations/escalated_notice",
            "zh",
            number=1,
            unit_zh="人民路网点",
            unit_en="Renmin Road Outlet",
            text="大厅地面湿滑没有提示",
            due=due,
            zone=ZONE,
            owner=None,
            next_at=due + dt.timedelta(hours=plan.deadlines.observation_close_hours),
            higher="临河县支行",
        )
        claim = said("observations/button_claim", "zh")
        assert notice == f"{private('paul', 'zh')}\n{expected}\n  [1] {claim}"
        assert "还没有人认领:请点下面的按钮认领" in expected
        assert "2027年1月15日(周五) 07:00 仍未办结,将继续上报给临河县支行" in expected
        # The observer learns where it went.
        told = said(
            "observations/escalated_observer", "zh", number=1, due=due, zone=ZONE, level="城东支行"
        )
        assert vera.take_transcript() == f"{private('vera', 'zh')}\n{told}"
        assert "已上报给城东支行的主管督办" in told

        # Claimed after the deadline: overdue, never "close by" a time already past.
        press = {"kind": EventKind.ACTION, "action": "observe.claim", "value": "1"}
        claimed = await here.handle("paul", **press)
        assert claimed == said(
            "observations/claimed", "zh", number=1, due=due, zone=ZONE, overdue=True
        )
        assert "已过(已超期),请尽快办结" in claimed and "前办结" not in claimed

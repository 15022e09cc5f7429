"""Results at the right time, through the demo session on the postal bank's plan: after each
stage the unit's chat gets its results (official score against the target, participation, the
weakest items, open rectifications, points) and its supervisors the ranking of their units;
the awards wait for the plan's December selection, not the last stage's start in September;
after the campaign the chat gets the closing summary and the supervisors the whole campaign's
report with its chart and spreadsheet. The clock jumps in single steps from one moment to the
next.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from campaigns.schema import Plan
from kernel import EventKind, Reply, Role
from storage.models import Campaign, OutboxMessage, Unit
from tests.harness import Office, at, open_office, rows, said

GROUP = "── 群聊 group:renmin-road ──"
YOURS = "── 私聊 → you ──"
PNG = b"\x89PNG\r\n\x1a\n"


def pushes(transcript: str) -> list[tuple[str, str]]:
    """Every push printed: (the header naming the chat, the message under it)."""
    blocks = re.split(r"^(── .+ ──)$", transcript, flags=re.MULTILINE)
    return [
        (header, body.strip("\n")) for header, body in zip(blocks[1::2], blocks[2::2], strict=True)
    ]


def starting(found: list[tuple[str, str]], header: str, prefix: str) -> list[str]:
    return [body for where, body in found if where == header and body.startswith(prefix)]


async def keys(here: Office, prefix: str) -> list[str]:
    return [
        m.idempotency_key
        for m in await rows(here, OutboxMessage)
        if m.idempotency_key.startswith(prefix)
    ]


async def inspect(here: Office, unit: int, score: str, deducted: str = "") -> None:
    """The county's admin records a mystery-shopper inspection of a unit, as the form sends it."""
    form = {"unit": str(unit), "kind": "mystery", "score": score, "deducted": deducted}
    await here.handle("kim", kind=EventKind.FORM, action="inspect.submit", form=form)


async def test_stage_results_awards_and_the_closing_summary_come_at_the_right_time(
    plan: Plan, db_url: str
) -> None:
    office = open_office(plan, db_url, role=Role.SUPERVISOR, locale="zh", start="2027-04-19 08:00")
    async with office as here:
        units = {u.key: u.id for u in await rows(here, Unit)}
        [campaign] = await rows(here, Campaign)
        await here.add("kim", "县支行管理员", Role.ADMIN, "linhe-county")
        kim = here.chat("kim")
        await inspect(here, units["renmin-road"], "91", "hw-shop-sign,sw-no-phone")
        await inspect(here, units["dongguan"], "95")
        here.bot.console.take_transcript()
        kim.take_transcript()

        # Stage 1 ends on Friday 30 April; 1–4 May are holidays: the results come on Wednesday
        # 5 May at the morning meeting, before stage 2 is announced.
        await here.jump(at("2027-05-05 08:30"))
        found = pushes(here.bot.console.take_transcript())
        group = [body for where, body in found if where == GROUP]
        assert group[0].startswith("🏁 阶段结束:第一阶段")
        assert group[1].startswith("📢 新阶段开始:第二阶段")
        results = group[0]
        assert "🎯 正式成绩(本阶段最后一次检查):检查得分 91 分,目标 92 分,差 1 分,未达标" in results
        assert "👥 参与:5 人中" in results and "⭐ 本阶段积分" in results
        assert "店招、门楣标识完好清洁，夜间灯光正常(不合格 1 次)" in results
        assert "柜员营业时间内不使用与业务无关的手机(不合格 1 次)" in results
        # The inspection's two deductions became rectifications, a week late by now.
        assert "🔧 未完成整改 2 张,其中逾期 2 张,请尽快完成" in results
        # You, a supervisor of an outlet, see it among the sub-branch's outlets, best first.
        [ranking] = starting(found, YOURS, "🏆 阶段成绩排名:第一阶段")
        assert ranking.splitlines()[1:4] == [
            "城东支行 各单位(按本阶段最后一次检查得分,其次按人均积分):",
            "1. 东关网点:检查得分 95 分,目标 92 分,已达标 ✅",
            "2. 人民路网点(本单位):检查得分 91 分,目标 92 分,差 1 分,未达标;人均积分 0",
        ]
        # The county's admin sees every outlet of the county; Chen Jing gets yours too.
        county = kim.take_transcript()
        assert "临河县支行 各单位" in county and "1. 东关网点" in county
        assert len(await keys(here, "stage-ranking:")) == 3  # you, Chen Jing, the admin
        assert len(await keys(here, "stage-results:")) == 1  # one unit chat

        # Stage 3 starts on 1 September, but the plan chooses the awards in December.
        await here.jump(at("2027-09-01 08:30"))
        found = pushes(here.bot.console.take_transcript())
        [stage2] = starting(found, GROUP, "🏁 阶段结束:第二阶段")
        assert "本阶段没有检查成绩(目标 95 分)" in stage2
        [announced] = starting(found, GROUP, "📢 新阶段开始:第三阶段")
        assert "2027年12月1日(周三) 起评选表彰,评选建议届时发给各位主管确认" in announced
        assert await keys(here, "awards") == []
        confirm = {
            "kind": EventKind.ACTION,
            "action": "awards.confirm",
            "value": f"{campaign.id}:{units['renmin-road']}",
        }
        early = await here.handle("you", **confirm)
        assert early == said("awards/not_now", "zh", day=dt.date(2027, 12, 1))
        assert "评选表彰从 2027年12月1日(周三) 开始" in early

        # On 1 December the suggestions go to the supervisors, and confirming announces them.
        await here.jump(at("2027-12-01 08:30"))
        found = pushes(here.bot.console.take_transcript())
        [suggested] = starting(found, YOURS, "🏅 评选表彰:")
        assert "服务明星:" in suggested and "先进网点:" in suggested
        assert len(await keys(here, "awards:")) == 3
        assert await here.handle("you", **confirm) == said("awards/confirmed", "zh")
        [notice] = starting(pushes(here.bot.console.take_transcript()), GROUP, "🏅 表彰通报")
        assert "服务明星:" in notice

        # The campaign ends on Friday 31 December; 1–3 January are holidays: on Tuesday the
        # 4th, the last stage's results, then the closing summary, stage by stage.
        await here.jump(at("2028-01-04 08:30"))
        found = pushes(here.bot.console.take_transcript())
        group = [body for where, body in found if where == GROUP]
        assert [body.splitlines()[0][:9] for body in group] == [
            "🏁 阶段结束:第三",
            "🎉 活动结束:临河",
        ]
        closing = group[1]
        assert (
            "• 第一阶段：自查整改（硬件）(2027年1月1日(周五) — 2027年4月30日(周五)):"
            "检查得分 91 分,目标 92 分,差 1 分,未达标" in closing
        )
        assert "本阶段没有检查成绩(目标 95 分)" in closing
        assert "本阶段没有检查成绩(目标 98 分)" in closing
        assert "⭐ 全程积分" in closing
        # Privately, the whole campaign's report: the opening, the summary, chart and sheet.
        [opening] = starting(found, YOURS, "🎉 活动结束:")
        assert "人民路网点 整个活动的总结报告" in opening
        [summary] = starting(found, YOURS, "📊 人民路网点 报告:2027年1月1日(周五) — 2027年12月31日")
        assert summary
        files = [
            Reply.from_json(m.reply)
            for m in await rows(here, OutboxMessage)
            if m.idempotency_key.startswith("campaign-report:")
            and Reply.from_json(m.reply).image is not None
        ]
        assert len(files) == 3  # you, Chen Jing, and the admin for the whole county
        for reply in files:
            assert reply.image is not None and reply.image.content.startswith(PNG)
            assert reply.file is not None and reply.file.content.startswith(b"PK")
        assert "📊 临河县支行 报告" in kim.take_transcript()

        # Afterwards /stage tells the unit's results stage by stage.
        after = await here.you("/stage")
        assert "活动的各个阶段都已结束。\n本单位各阶段成绩:" in after
        assert "检查得分 91 分,目标 92 分,差 1 分,未达标" in after
        assert "输入 /report 全程 查看整个活动的报告" in after


async def test_stage_results_in_english(plan: Plan, demo_db: Path) -> None:
    office = open_office(plan, demo_db, role=Role.SUPERVISOR, locale="en", start="2027-04-19 08:00")
    async with office as here:
        units = {u.key: u.id for u in await rows(here, Unit)}
        await here.add("kim", "County Admin", Role.ADMIN, "linhe-county")
        await inspect(here, units["renmin-road"], "93.5")
        here.bot.console.take_transcript()
        await here.jump(at("2027-05-05 08:30"))
        found = pushes(here.bot.console.take_transcript())
        [results] = starting(found, "── group chat group:renmin-road ──", "🏁 Stage over: Stage 1")
        assert "Renmin Road Outlet's results for the stage:" in results
        assert "inspection score 93.5, target 92: met ✅" in results
        assert "Every rectification is done" in results
        [ranking] = starting(found, "── private message → you ──", "🏆 Stage ranking: Stage 1")
        assert "1. Renmin Road Outlet (your unit): inspection score 93.5, target 92: met ✅" in (
            ranking
        )

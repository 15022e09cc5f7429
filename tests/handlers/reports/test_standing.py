"""The official standing against the stage target, said the same way everywhere.

At Renmin Road (the postal bank's plan, stage 1, target 92) a self-check passes every item on
Monday 4 January 2027: with no inspection yet, /score says there is no verdict. Then the county
branch inspects the outlet and scores it 91; on Tuesday another self-check passes every item.
/score, /report and Friday's weekly summary all say the official score is the inspection's 91,
not reached, with the self-check average of 100 on a line of its own; the chart draws the target
as a line with the 91 against it. Two complaints closed 73 hours after they came in (48 allowed)
count as overdue. In Chinese and in English in the same session (/lang), on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re

from matplotlib.lines import Line2D

from bot.demo import DemoSession
from campaigns.schema import Plan
from handlers.reports.sections import build_report
from kernel import Reply, Role
from messages import Renderer
from messages.reports.chart import build_report_figure
from storage.models import OutboxMessage
from tests.harness import jump, open_demo, rows, seat_at, typed

RENDER = Renderer()
MONDAY = "2027-01-04 09:00"
OFFICIAL_ZH = (
    "🏁 官方得分(检查):91 分(神秘人检查,2027年1月4日(周一)),阶段目标 92 分:未达标 ❌,差 1 分"
)
SELFCHECK_ZH = "🧾 自查平均分(自己检查,不作为达标依据):本阶段 100 分(共 2 次自查)"
OFFICIAL_EN = (
    "🏁 Official score (inspection): 91 (mystery shopper, Mon 4 Jan 2027) against the stage "
    "target 92: not reached ❌, 1 short"
)
SELFCHECK_EN = (
    "🧾 Self-check average (our own check, not the official score): 100 this stage (2 self-checks)"
)


def number_of(out: str, label: str) -> str:
    """The number typed to pick ``label`` among the choices just printed."""
    found = re.search(rf"^  \[(\d+)\] {re.escape(label)}$", out, re.MULTILINE)
    assert found is not None, f"{label!r} is not offered in:\n{out}"
    return found[1]


def last_choice(out: str) -> str:
    """The number of the last choice printed (a button under the newest message)."""
    return re.findall(r"^  \[(\d+)\] ", out, re.MULTILINE)[-1]


def standing_of(text: str) -> list[str]:
    """The two standing lines of a reply: the official score, then the self-check average."""
    return [line for line in text.splitlines() if line.startswith(("🏁", "🧾"))]


async def inspect_renmin_road(bot: DemoSession, score: str) -> str:
    """You, an admin, inspect Renmin Road from the county branch (nobody inspects their own)."""
    await seat_at(bot, "linhe-county")
    out = await typed(bot, "/inspect")
    out = await typed(bot, number_of(out, "人民路网点"))
    await typed(bot, number_of(out, "神秘人检查"))
    await typed(bot, score)
    done = await typed(bot, "-")  # nothing deducted
    await seat_at(bot, "renmin-road")
    return done


async def complain(bot: DemoSession, text: str) -> None:
    """A signed complaint about Renmin Road, which you then claim."""
    out = await typed(bot, "/observe")
    out = await typed(bot, number_of(out, "人民路网点"))
    await typed(bot, number_of(out, "投诉"))
    await typed(bot, text)
    await typed(bot, "1")  # signed
    await typed(bot, "-")  # no photo
    out = await typed(bot, "/observations")
    assert "我来负责" in out, out
    await typed(bot, last_choice(out))


async def close_every_observation(bot: DemoSession) -> None:
    for _ in range(2):
        out = await typed(bot, "/observations")
        await typed(bot, last_choice(out))
        await typed(bot, "已向客户解释并增开窗口")


async def self_check_all_pass(bot: DemoSession) -> str:
    out = await typed(bot, "/check")
    for _ in range(40):
        if "自查完成" in out:
            return out
        out = await typed(bot, "1")  # 合格
    raise AssertionError(out)


async def test_the_official_score_decides_and_the_self_checks_stand_apart(
    db_url: str, plan: Plan
) -> None:
    async with open_demo(plan, db_url, role=Role.ADMIN, locale="zh", start=MONDAY) as bot:
        # Self-checks alone never reach a target: before any inspection, no verdict.
        await self_check_all_pass(bot)
        score = await typed(bot, "/score")
        assert standing_of(score) == [
            "🏁 官方得分(检查):本阶段还没有检查,暂无达标结论(阶段目标 92 分)",
            "🧾 自查平均分(自己检查,不作为达标依据):本阶段 100 分(共 1 次自查)",
        ]
        assert "已达标" not in score
        await typed(bot, "/lang en")
        assert standing_of(await typed(bot, "/score")) == [
            "🏁 Official score (inspection): no inspection yet this stage, so no official "
            "standing yet (stage target 92)",
            "🧾 Self-check average (our own check, not the official score): 100 this stage "
            "(1 self-check)",
        ]
        await typed(bot, "/lang zh")

        notice = await inspect_renmin_road(bot, "91")
        assert "未达标 ❌" in notice and "考核 1,200 元" in notice
        await complain(bot, "排队太久,没有人解释")
        await complain(bot, "叫号机坏了")
        await jump(bot, "2027-01-05 10:00")
        assert "100 分" in await self_check_all_pass(bot)
        await jump(bot, "2027-01-07 10:00")  # 73 hours after the complaints, 48 allowed
        await close_every_observation(bot)

        # /score: the official 91 short of 92, the self-checks' 100 apart.
        assert standing_of(await typed(bot, "/score")) == [OFFICIAL_ZH, SELFCHECK_ZH]
        # /report: the same two lines; both complaints were closed late, so both are overdue.
        report = await typed(bot, "/report 人民路网点")
        assert standing_of(report) == [OFFICIAL_ZH, SELFCHECK_ZH]
        assert "已达标" not in report
        assert "📣 监督意见:未办结 0 条;超期 2 条(其中逾期办结 2 条);平均办结 73 小时" in report

        # Friday's weekly summary in the unit's chat says the same.
        pushed = await jump(bot, "2027-01-08 18:00")
        weekly = [part for part in pushed.split("── ") if "本周小结" in part]
        assert len(weekly) == 1, pushed
        assert standing_of(weekly[0]) == [OFFICIAL_ZH, SELFCHECK_ZH]
        [summary] = [
            reply
            for m in await rows(bot, OutboxMessage)
            if m.idempotency_key.startswith("weekly:")
            and (reply := Reply.from_json(m.reply)).text is not None
            and reply.text.template == "reports/weekly"
        ]
        assert summary.text is not None
        assert standing_of(RENDER.render(summary.text, "en")) == [OFFICIAL_EN, SELFCHECK_EN]

        # The chart: the target as a line, the official 91 marked against it.
        async with bot.database.store() as store:
            organisation = await store.units.organisation_by_key("psbc")
            assert organisation is not None
            unit = await store.units.by_key(organisation.id, "renmin-road")
            campaign = await store.campaigns.by_key(organisation.id, "postal-bank")
            assert unit is not None and campaign is not None
            model = await build_report(
                store,
                campaign,
                unit,
                dt.date(2027, 1, 1),
                dt.date(2027, 4, 30),
                "en",
                bot.clock.now(),
            )
        assert model.standing is not None and model.standing.official is not None
        assert (model.standing.target, model.standing.official.score) == (92.0, 91.0)
        assert model.units[0].official == model.standing.official
        trend = build_report_figure(model, "en", RENDER).axes[0]
        target = [line for line in trend.get_lines() if line.get_label() == "Stage target 92"]
        assert len(target) == 1 and isinstance(target[0], Line2D)
        assert set(target[0].get_ydata()) == {92.0}
        marks = [c for c in trend.collections if c.get_label() == "Official score (inspection)"]
        assert [tuple(p)[1] for p in marks[0].get_offsets()] == [91.0]

        # In English, the very same numbers.
        await typed(bot, "/lang en")
        assert standing_of(await typed(bot, "/score")) == [OFFICIAL_EN, SELFCHECK_EN]
        report = await typed(bot, "/report renmin-road")
        assert standing_of(report) == [OFFICIAL_EN, SELFCHECK_EN]
        assert (
            "📣 Observations: 0 open; 2 overdue (2 of them closed late); closed in 73 hours on "
            "average" in report
        )

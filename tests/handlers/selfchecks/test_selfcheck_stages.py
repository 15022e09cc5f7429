"""A self-check belongs to its stage: paused in one stage, it is not carried into the next. /check
then says why and starts a fresh one for the stage under way; the old run stays unscored, and its
buttons no longer answer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from campaigns.schema import Plan
from kernel import EventKind
from storage.models import SelfCheckAnswer, SelfCheckRun, Stage
from tests.harness import open_office, rows, said

PASS, PAUSE = "1", "4"  # the item buttons, numbered afresh for each item


async def test_a_self_check_paused_in_one_stage_is_not_resumed_in_the_next(
    plan: Plan, demo_db: Path
) -> None:
    async with open_office(plan, demo_db, locale="zh", start="2027-04-29 09:00") as here:
        assert "第 1/28 项" in await here.you("/check")
        assert "第 2/28 项" in await here.you(PASS)
        paused = await here.you(PAUSE)
        assert paused == said("selfchecks/paused", "zh", until=dt.date(2027, 4, 30))
        assert "本阶段结束(2027年4月30日" in paused

        await here.jump(dt.datetime(2027, 5, 6, 1, 0, tzinfo=dt.UTC))  # stage 2, 09:00 local
        here.bot.console.take_transcript()  # the morning's pushes
        fresh = await here.you("/check")
        first, second, _ = await rows(here, Stage)
        told = said(
            "selfchecks/stage_over",
            "zh",
            done=1,
            started=dt.date(2027, 4, 29),
            stage_zh=first.name_zh,
            stage_en=first.name_en,
            ended=dt.date(2027, 4, 30),
            current_zh=second.name_zh,
            current_en=second.name_en,
        )
        assert fresh.startswith(told) and "第 1/" in fresh
        assert "已答 1 项,不计分" in told and "第二阶段" in told

        old, new = await rows(here, SelfCheckRun)
        assert (old.stage_id, old.finished_at, old.score) == (first.id, None, None)
        assert new.stage_id == second.id
        [answer] = await rows(here, SelfCheckAnswer, SelfCheckAnswer.run_id == old.id)

        # The old run's buttons no longer answer; /check goes on with the new one, told once.
        stale = {"kind": EventKind.ACTION, "action": "check.answer"}
        value = f"{old.id}:{answer.item_id + 1}:pass"
        turned_down = said("selfchecks/stage_ended", "zh")
        assert await here.handle("you", **stale, value=value) == turned_down
        again = await here.you("/check")
        assert again.startswith(said("selfchecks/resumed", "zh", done=0))
    assert len(await rows(here, SelfCheckAnswer)) == 1

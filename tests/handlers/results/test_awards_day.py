"""The plan's awards day (``scoring.awards_on``): the postal bank's plan names 1 December, inside
its last stage, as its own text says ("12月全面总结，评选…"); a day outside the campaign is a plan
error on its line, with the campaign's dates as the fix."""

from __future__ import annotations

import datetime as dt

from campaigns.loader import read_plan_text
from tests.harness import PLANS, read_plan, said


def test_the_postal_bank_chooses_its_awards_in_december() -> None:
    plan = read_plan("postal-bank")
    assert plan.scoring.awards_on == dt.date(2027, 12, 1)
    [last] = [s for s in plan.stages if s.summary]
    assert last.starts_on < plan.scoring.awards_on <= last.ends_on
    # The other plans choose theirs when their summary stage starts.
    for name in ("bus-operator", "hotel", "university-facilities"):
        assert read_plan(name).scoring.awards_on is None


def test_an_awards_day_outside_the_campaign_is_refused_on_its_line() -> None:
    text = (PLANS / "postal-bank.yaml").read_text("utf-8")
    wrong = text.replace("awards_on: 2027-12-01", "awards_on: 2028-01-15")
    reading = read_plan_text(wrong)
    assert reading.plan is None
    [problem] = reading.problems
    line = wrong.splitlines().index("  awards_on: 2028-01-15") + 1
    assert (problem.line, problem.path, problem.code) == (
        line,
        ("scoring", "awards_on"),
        "date_outside_campaign",
    )
    assert said("plan_error/date_outside_campaign", "zh", **problem.data) == (
        "日期必须在活动期内(2027-01-01 至 2027-12-31)。"
    )

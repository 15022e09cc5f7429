"""/report: the picture for supervisors (their unit and below) and admins (any unit).

A short text summary, a chart (trend against the target, unit ranking) and a spreadsheet ledger
(台账), for this week, this month, this stage or any dates, in Chinese or English."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from handlers.framework.context import Context
from handlers.framework.router import ANYWHERE, Router
from handlers.reports.periods import parse_period, unit_and_period
from handlers.reports.sections import build_report
from handlers.shared.calendar import local_date
from handlers.shared.locale import pick_locale
from handlers.shared.names import some_names
from handlers.shared.outbox import queue_private
from handlers.shared.standing import standing_text
from handlers.shared.units import unit_label
from kernel import SUPERVISORS, Attachment, Audience, Refusal, Reply, Role, Text
from messages import Renderer
from messages.reports.model import Report
from storage.models import Member, Unit
from storage.store import Store

PNG = "image/png"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def register(router: Router) -> None:
    reports = router.feature("reports")
    reports.command("report", show_report, roles=SUPERVISORS, menus=ANYWHERE)


async def show_report(ctx: Context) -> None:
    member, home = ctx.seated()
    units = await _units_in_scope(ctx, member, home)
    everywhere = await ctx.store.units.of_organisation(member.organisation_id)
    named, rest = unit_and_period(ctx.event.args, everywhere)
    if named is not None and named not in units:
        raise Refusal("reports/unit_not_covered", unit=unit_label(named), home=unit_label(home))
    unit = named or (home if member.role != Role.ADMIN else _root(units, home))
    ctx.replies.extend(
        await unit_report(ctx.store, unit, rest, ctx.locale, ctx.now(), ctx.personal)
    )


async def unit_report(
    store: Store,
    unit: Unit,
    period: str,
    locale: str,
    now: dt.datetime,
    to: Audience,
    *,
    full_ledger: Callable[[Report], Path] | None = None,
    max_rows: int | None = None,
) -> list[Reply]:
    """The report of ``unit`` and the units under it for the ``period`` typed (the current
    stage when empty): what /report shows and ``uplift report`` writes to files (with every
    ledger row when asked: see ``report_replies``)."""
    today = local_date(unit, now)
    campaign = await store.campaigns.current(unit.organisation_id, today)
    if campaign is None:
        raise Refusal("errors/no_campaign")
    stage = await store.campaigns.stage_on(campaign.id, today)
    dates = parse_period(
        period,
        today,
        now,
        unit.timezone,
        (stage.starts_on, stage.ends_on) if stage else None,
        (campaign.starts_on, campaign.ends_on),
    )
    if dates is None:
        raise Refusal("reports/bad_period", given=period)
    report = await build_report(store, campaign, unit, dates[0], dates[1], locale, now)
    return await report_replies(report, locale, to, full_ledger=full_ledger, max_rows=max_rows)


def _chart(report: Report, locale: str, renderer: Renderer) -> bytes:
    # matplotlib takes most of a second to import: only once a report is drawn, off the loop
    from messages.reports.chart import render_report_chart

    return render_report_chart(report, locale, renderer)


def _workbook(report: Report, locale: str, renderer: Renderer, options: dict[str, Any]) -> bytes:
    # XlsxWriter likewise; it streams the ledger from the database as it writes (see
    # ledger_feed.py), which is why it runs in a thread of its own
    from messages.reports.sheet import render_report_workbook

    return render_report_workbook(report, locale, renderer, **options)


async def report_replies(
    report: Report,
    locale: str,
    to: Audience,
    *,
    full_ledger: Callable[[Report], Path] | None = None,
    max_rows: int | None = None,
) -> list[Reply]:
    """The summary text, then the chart and the spreadsheet (rendered off the event loop).

    ``full_ledger``: every ledger row is asked for too, in a sheet, or in a compressed CSV at
    the path it gives for the report when there are more than a sheet holds (``max_rows``,
    Excel's limit unless a test says otherwise). Call it in the unit of work the report was
    built in: the sheet reads the ledger from it."""
    renderer = Renderer()
    options: dict[str, Any] = {"full_ledger": full_ledger(report) if full_ledger else None}
    if max_rows is not None:
        options["max_rows"] = max_rows
    chart, workbook = await asyncio.gather(
        asyncio.to_thread(_chart, report, locale, renderer),
        asyncio.to_thread(_workbook, report, locale, renderer, options),
    )
    headline = report.headline
    stem = f"report-{headline.first.isoformat()}-{headline.last.isoformat()}"
    return [
        Reply(text=summary_text(report), to=to),
        Reply(
            image=Attachment(
                f"{stem}.png", chart, PNG, Text("reports/caption_chart", {"unit": headline.unit})
            ),
            file=Attachment(
                f"{stem}.xlsx",
                workbook,
                XLSX,
                Text("reports/caption_sheet", {"unit": headline.unit}),
            ),
            to=to,
        ),
    ]


def summary_text(report: Report) -> Text:
    return Text(
        "reports/summary",
        {
            "h": report.headline,
            "a": report.activity,
            "f": report.follow_ups,
            "standing": standing_text(report.standing) if report.standing else None,
            "accuracy": report.activity.drill_accuracy,
            "silent": some_names([m.name for m in report.silent_members]),
            "silent_count": len(report.silent_members),
            "top": [
                Text("reports/unit_rank", {"name": u.name, "per_member": round(u.per_member, 1)})
                for u in report.top_units
            ],
            "bottom": [
                Text("reports/unit_rank", {"name": u.name, "per_member": round(u.per_member, 1)})
                for u in report.bottom_units
            ],
            "weakest": [
                Text("reports/item_line", {"text": i.text, "failures": i.failures})
                for i in report.weakest_items
            ],
            "members": len(report.members),
        },
    )


async def _units_in_scope(ctx: Context, member: Member, home: Unit) -> list[Unit]:
    everything = await ctx.store.units.of_organisation(member.organisation_id)
    if member.role == Role.ADMIN:
        return everything
    allowed = set(await ctx.store.units.subtree_ids(home.id))
    return [u for u in everything if u.id in allowed]


def _root(units: list[Unit], home: Unit) -> Unit:
    roots = [u for u in units if u.parent_id is None]
    return roots[0] if len(roots) == 1 else home


async def queue_report_privately(
    store: Store,
    people: Sequence[Member],
    fallback_locale: str,
    build: Callable[[str], Awaitable[list[Reply]]],
    key: str,
    due_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """Queue a pushed report (its text, chart and sheet) to each person in their own language:
    built once per language, since names and words are chosen as it is built; each person and
    part has its own key under ``key``."""
    built: dict[str, list[Reply]] = {}
    for person in people:
        locale = pick_locale(person.locale, fallback=fallback_locale)
        if locale not in built:
            built[locale] = await build(locale)
        for index, reply in enumerate(built[locale]):
            await queue_private(
                store,
                member_id=person.id,
                reply=reply,
                key=f"{key}:{person.id}:{index}",
                due_at=due_at,
                now=now,
            )

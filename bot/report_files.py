"""``uplift report``: the same report as /report, written to files from the command line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from handlers.reports.periods import parse_period
from handlers.reports.reports import report_replies
from handlers.reports.sections import build_report
from handlers.shared.calendar import local_date
from kernel import Audience
from messages import Renderer
from storage.database import Database
from storage.models import Unit
from storage.store import Store


class ReportError(Exception):
    """Why the report cannot be made: a template name under cli/ and its data."""

    def __init__(self, template: str, **data: object) -> None:
        super().__init__(template)
        self.template = template
        self.data = data


@dataclass(frozen=True)
class ReportFiles:
    summary: str
    paths: list[Path]


async def write_report(
    database: Database,
    *,
    unit_name: str | None,
    period: str,
    out: Path,
    locale: str,
    now: dt.datetime,
) -> ReportFiles:
    renderer = Renderer()
    async with database.store() as store:
        unit = await _find_unit(store, unit_name)
        today = local_date(unit, now)
        campaign = await store.campaigns.current(unit.organisation_id, today)
        if campaign is None:
            raise ReportError("report_no_campaign")
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
            raise ReportError("report_bad_period", given=period)
        report = await build_report(store, campaign, unit, dates[0], dates[1], locale, now)
    # The same replies /report gives in a chat: the summary, then the chart and the ledger.
    text, files = await report_replies(report, locale, Audience.CHAT)
    assert text.text is not None and files.image is not None and files.file is not None
    summary = renderer.render(text.text, locale)
    chart, workbook = files.image.content, files.file.content
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"report-{unit.key}-{dates[0].isoformat()}-{dates[1].isoformat()}"
    files = {".txt": summary.encode("utf-8"), ".png": chart, ".xlsx": workbook}
    paths = []
    for suffix, content in files.items():
        path = stem.with_suffix(suffix)
        path.write_bytes(content)
        paths.append(path)
    return ReportFiles(summary, paths)


async def _find_unit(store: Store, name: str | None) -> Unit:
    """The unit named (key or name), or the whole organisation when there is only one root."""
    organisations = await store.units.organisations()
    units = [
        u
        for organisation in organisations
        for u in await store.units.of_organisation(organisation.id)
    ]
    if not units:
        raise ReportError("report_no_campaign")
    if name is None:
        roots = [u for u in units if u.parent_id is None]
        if len(roots) != 1:
            raise ReportError("report_which_unit", units=", ".join(u.key for u in roots))
        return roots[0]
    folded = name.casefold()
    found = [
        u for u in units if folded in (u.key.casefold(), u.name_zh.casefold(), u.name_en.casefold())
    ]
    if len(found) != 1:
        raise ReportError("report_unknown_unit", given=name, units=", ".join(u.key for u in units))
    return found[0]

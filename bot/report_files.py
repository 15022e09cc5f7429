"""``uplift report``: the very replies /report gives, written to files from the command line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from handlers.reports import unit_report
from kernel import Audience, Refusal
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
        try:
            text, files = await unit_report(store, unit, period, locale, now, Audience.CHAT)
        except Refusal as refusal:
            if refusal.template == "reports/bad_period":
                raise ReportError("report_bad_period", given=period) from None
            raise ReportError("report_no_campaign") from None
    # The very replies /report gives in a chat: the summary, then the chart and the ledger.
    assert text.text is not None and files.image is not None and files.file is not None
    summary = renderer.render(text.text, locale)
    out.mkdir(parents=True, exist_ok=True)
    period_dates = Path(files.image.filename).stem.removeprefix("report-")
    stem = out / f"report-{unit.key}-{period_dates}"
    contents = {
        ".txt": summary.encode("utf-8"),
        ".png": files.image.content,
        ".xlsx": files.file.content,
    }
    paths = []
    for suffix, content in contents.items():
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

"""The report's ledger on a real database (SQLite and PostgreSQL): the sheet sums it per member per
day, read as a stream grouped in SQL; ``uplift report --ledger`` adds every ledger row, in a sheet
when they fit and otherwise in a compressed CSV beside the workbook that the sheet names.

The demo's first morning at the postal bank, plus sixty ledger rows booked straight to the ledger
for three people over three days in several sources; the limit on a sheet's rows is a parameter,
so a sheet of 30 rows stands in for Excel's 1,048,576."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections import Counter
from pathlib import Path

from openpyxl import load_workbook

from bot.adapters.console import PLATFORM
from bot.report_files import write_report
from campaigns.schema import Plan
from kernel import Role
from storage.database import Database
from storage.models import Member, PointEntry
from storage.points import Award
from storage.store import Store
from tests.harness import open_demo, rows

DAYS = (dt.date(2027, 1, 4), dt.date(2027, 1, 5), dt.date(2027, 1, 6))
SOURCES = (("drill", "drill_correct"), ("check", "selfcheck_completed"), ("deed", "deed_approved"))
PEOPLE = ("Lin Yi", "Lin Er", "Lin San")


async def book_ledger(database: Database, now: dt.datetime) -> None:
    """Sixty rows: each person, each day, each source, more than once (and one unit-level row)."""
    async with database.store() as store:
        assert isinstance(store, Store)
        organisation = await store.units.organisation_by_key("psbc")
        assert organisation is not None
        campaign = await store.campaigns.by_key(organisation.id, "postal-bank")
        unit = await store.units.by_key(organisation.id, "renmin-road")
        assert campaign is not None and unit is not None
        count = 0
        for n, name in enumerate(PEOPLE):
            member = await store.members.add(
                organisation_id=organisation.id,
                unit_id=unit.id,
                display_name=name,
                role=Role.STAFF,
                now=now,
            )
            await store.members.add_identity(
                member, platform=PLATFORM, external_id=f"lin-{n}", private_chat_id=None, now=now
            )
            for day in DAYS:
                for source, rule in SOURCES:
                    for repeat in range(2 if source == "drill" else 1):
                        count += 1
                        await store.ledger.award(
                            Award(
                                campaign_id=campaign.id,
                                unit_id=unit.id,
                                member_id=member.id,
                                source=source,
                                rule=rule,
                                points=n + repeat + 1,
                                key=f"test-ledger:{count}",
                                occurred_at=now,
                                local_date=day,
                            )
                        )


async def period_ledger(database: Database, first: dt.date, last: dt.date) -> list[PointEntry]:
    return [e for e in await rows(database, PointEntry) if first <= e.local_date <= last]


async def make_reports(
    plan: Plan, db_url: str, out: Path
) -> tuple[list[Path], list[Path], list[PointEntry], dict[int, str]]:
    """The report with every ledger row: in sheets as large as Excel's, and in sheets of 30."""
    async with open_demo(plan, db_url, role=Role.ADMIN) as bot:
        now = bot.clock.now()
        await book_ledger(bot.database, now)
        made = [
            await write_report(
                bot.database,
                unit_name="renmin-road",
                period="2027-01-01 to 2027-01-31",
                out=out / folder,
                locale="en",
                now=now,
                ledger=True,
                max_rows=max_rows,
            )
            for folder, max_rows in (("large", None), ("small", 30))
        ]
        entries = await period_ledger(bot.database, dt.date(2027, 1, 1), dt.date(2027, 1, 31))
        names = {m.id: m.display_name for m in await rows(bot.database, Member)}
    return made[0].paths, made[1].paths, entries, names


def days_sheet(xlsx: Path) -> tuple[list[tuple[object, ...]], tuple[object, ...]]:
    sheet = load_workbook(io.BytesIO(xlsx.read_bytes()))["Points ledger"]
    _, *days, total = sheet.iter_rows(values_only=True)
    return days, total


def the_days(
    entries: list[PointEntry], names: dict[int, str]
) -> dict[tuple[dt.date, str], tuple[int, ...]]:
    """The ledger per member (by name) per day: points by drill, check and deed, and in all."""
    sums: dict[tuple[dt.date, str], Counter[str]] = {}
    for e in entries:
        day = sums.setdefault((e.local_date, names.get(e.member_id or 0, "")), Counter())
        day[e.source] += e.points
        day["all"] += e.points
    return {key: (c["drill"], c["check"], c["deed"], c["all"]) for key, c in sums.items()}


async def test_the_sheet_sums_per_member_per_day_and_every_row_is_in_a_sheet_or_beside_it(
    plan: Plan, db_url: str, tmp_path: Path
) -> None:
    paths, small, entries, names = await make_reports(plan, db_url, tmp_path)
    # Excel's limit: one row per member per day, and every ledger row in a sheet of its own
    assert [p.suffix for p in paths] == [".txt", ".png", ".xlsx"]  # they fit: no CSV
    days, total = days_sheet(paths[2])
    shown = {(row[0].date(), row[1] or ""): (row[3], row[5], row[6], row[9]) for row in days}
    assert len(shown) == len(days)  # one row per member per day
    assert shown == the_days(entries, names)
    assert total[9] == sum(e.points for e in entries)
    book = load_workbook(io.BytesIO(paths[2].read_bytes()))
    _, *listed, entries_total = book["Ledger rows"].iter_rows(values_only=True)
    assert sorted(row[0] for row in listed) == sorted(e.id for e in entries)
    assert entries_total[6] == total[9]
    assert {row[4] for row in listed} >= {"drills", "self-checks", "good deeds"}  # words

    # sheets of 30 rows: more ledger rows than that go beside the workbook as CSV.gz
    assert len(entries) > 30
    xlsx, beside = small[2], small[3]
    assert beside.name == xlsx.name.removesuffix(".xlsx") + "-ledger.csv.gz"
    with gzip.open(beside, "rt", encoding="utf-8-sig", newline="") as file:
        header, *lines = list(csv.reader(file))
    assert header[:3] == ["Entry", "Date", "Member"]
    assert sorted(int(line[0]) for line in lines) == sorted(e.id for e in entries)
    assert sum(int(line[6]) for line in lines) == sum(e.points for e in entries)
    note = load_workbook(io.BytesIO(xlsx.read_bytes()))["Ledger rows"]["A1"].value
    assert beside.name in note and f"{len(entries)} ledger rows" in note
    assert days_sheet(xlsx) == (days, total)  # the days still fit in 30 rows

"""The house's import contract holds, and the check itself catches each kind of breach.

Layers, lowest first: kernel → campaigns → storage | messages → handlers → bot. Inside handlers/:
shared → framework → features, and no feature imports another. Platform libraries only under
bot/adapters/; SQL, sessions and repositories only in storage/ (code elsewhere gets a Store from
``Database.store()``); outside storage/ nothing writes a record's attributes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.harness.architecture import violations

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kernel", "campaigns", "storage", "messages", "handlers", "bot")


def test_the_house_keeps_its_contract() -> None:
    assert violations(ROOT) == []


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real source tree, to break on purpose."""
    root = tmp_path_factory.mktemp("house")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.j2")
        )
    return root


BREACHES = {
    "an upward import": (
        "kernel/roles.py",
        "from handlers.framework.router import Router\n",
        "kernel imports upward into handlers",
    ),
    "storage reaching for messages": (
        "storage/points.py",
        "from messages import Renderer\n",
        "storage imports its neighbour messages",
    ),
    "one feature importing another": (
        "handlers/points/points.py",
        "from handlers.drills.drills import drill_reply\n",
        "the feature points imports the feature drills",
    ),
    "shared helpers importing a feature": (
        "handlers/shared/units.py",
        "import handlers.reports\n",
        "shared helpers import the framework or a feature",
    ),
    "a platform library outside the adapters": (
        "bot/service.py",
        "from telegram.error import TelegramError\n",
        "imports the platform library telegram outside bot/adapters/",
    ),
    "SQL in a handler": (
        "handlers/guide/guide.py",
        "from sqlalchemy import select\n",
        "imports sqlalchemy outside storage/",
    ),
    "a third-party library in the kernel": (
        "kernel/clock.py",
        "import pydantic\n",
        "imports pydantic: the kernel uses the standard library only",
    ),
    "a session used by a job": (
        "bot/scheduler.py",
        "def peek(store):\n    return store._session\n",
        "uses a database session outside storage/",
    ),
    "a raw transaction in the sender": (
        "bot/delivery.py",
        "async def peek(database):\n    async with database.transaction() as s:\n        pass\n",
        "opens a raw transaction outside storage/",
    ),
    "a repository built by a handler": (
        "handlers/drills/drills.py",
        "from storage.drills import Drills\n",
        "imports the repository Drills outside Store",
    ),
    "a record written by a handler": (
        "handlers/language/language.py",
        "def rename(member):\n    member.display_name = 'x'\n",
        "writes member.display_name outside storage/",
    ),
}


@pytest.mark.parametrize("breach", sorted(BREACHES))
def test_the_check_catches(house: Path, breach: str) -> None:
    path, code, expected = BREACHES[breach]
    target = house / path
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original + "\n" + code, encoding="utf-8")
        found = violations(house)
    finally:
        target.write_text(original, encoding="utf-8")
    assert any(path in line and expected in line for line in found), found
    assert violations(house) == []  # and the copy is whole again


def test_heavy_libraries_load_when_a_report_is_made_not_at_start() -> None:
    """matplotlib, openpyxl and XlsxWriter (and jionlp) cost tens of megabytes and most of a
    second: `uplift run` must not pay for them before a report or a date phrase needs them."""
    import subprocess
    import sys

    heavy = ("matplotlib", "openpyxl", "xlsxwriter", "jionlp")
    probe = (
        "import sys, bot.service, bot.cli, handlers; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "", f"imported at start: {done.stdout.strip()}"

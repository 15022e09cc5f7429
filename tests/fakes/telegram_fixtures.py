"""The ``fake_telegram`` fixture: a running FakeTelegram for one test, stopped afterwards.

Why a separate module: tests/conftest.py stays about the database, and only the tests that need
the fake start a server. Pull it into a conftest with
``from tests.fakes.telegram_fixtures import fake_telegram``; in a test module,
``fake_telegram = telegram_fixtures.fake_telegram`` keeps ruff's F811 quiet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.telegram_api import FakeTelegram

TEST_TOKEN = "123:ABC"


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A fake Bot API on 127.0.0.1 for the token ``123:ABC``."""
    async with FakeTelegram(token=TEST_TOKEN) as tg:
        yield tg

"""The ``bot`` fixture: the Telegram adapter on a seated office against the strict fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.bot.adapters.telegram.telegram_bot import Bot, open_bot


@pytest_asyncio.fixture
async def bot(sqlite_url: str) -> AsyncIterator[Bot]:
    async with open_bot(sqlite_url) as opened:
        yield opened

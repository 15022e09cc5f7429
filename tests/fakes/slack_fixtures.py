"""The `fake_slack` fixture: a started FakeSlack per test, stopped afterwards.

Pull it into a conftest with `from tests.fakes.slack_fixtures import fake_slack`; in a test
module, `fake_slack = slack_fixtures.fake_slack` keeps ruff's F811 quiet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.slack_api import FakeSlack


@pytest_asyncio.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack

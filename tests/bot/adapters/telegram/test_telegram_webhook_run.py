"""``uplift run`` refuses a Telegram webhook without its secret, in the CLI's language, before
anything starts: a webhook with no secret cannot tell Telegram's requests from anyone else's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kernel import Text
from messages import Renderer, Target
from tests.fakes.telegram_api import FakeTelegram
from tests.harness.cli import cli_env, free_port, uplift_command

TOKEN = "123:ABC"


@pytest.mark.parametrize("locale", ["en", "zh"])
@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
async def test_a_webhook_without_a_secret_is_refused(
    tmp_path: Path, locale: str, secret: str | None
) -> None:
    database = tmp_path / "uplift.db"
    async with FakeTelegram(TOKEN) as tg:
        extra = {} if secret is None else {"TELEGRAM_WEBHOOK_SECRET": secret}
        env = cli_env(
            f"sqlite:///{database}",
            locale,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=tg.base_url,
            TELEGRAM_WEBHOOK_URL="https://uplift.example/telegram/webhook",
            UPLIFT_HTTP_HOST="127.0.0.1",
            UPLIFT_HTTP_PORT=str(free_port()),
            **extra,
        )
        # The fake serves on this loop: wait for the process without blocking it.
        process = await asyncio.create_subprocess_exec(
            *uplift_command(),
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 1
    assert stdout == b""
    expected = Renderer().render(Text("cli/webhook_needs_secret"), locale, Target.PLAIN)
    assert stderr.decode("utf-8").strip() == expected.strip()
    assert "TELEGRAM_WEBHOOK_SECRET" in expected
    assert tg.recorded == []  # no getMe, no setWebhook: nothing started
    assert not database.exists()

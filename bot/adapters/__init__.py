"""The platforms, one sub-package each: console, Slack, Telegram. These are the only modules that
import a platform library; the service sees each through ``Platform`` and builds the configured
ones with ``configured_platforms``."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Protocol

from bot.outbound import OutboundAdapter

if TYPE_CHECKING:
    from aiohttp import web

    from bot.config import Settings
    from bot.dispatcher import Dispatcher
    from kernel import Clock
    from messages import Renderer


def letter(index: int) -> str:
    """A, B, … Z, then AA, AB, …: the short label of the ``index``-th choice, where a choice too
    long for a button is listed in full and pressed by its letter (Slack and Telegram alike)."""
    letters = string.ascii_uppercase
    return letters[index] if index < len(letters) else letter(index // 26 - 1) + letters[index % 26]


class PlatformStartFailed(Exception):
    """A platform refused to connect (a wrong token, say): the process stops with a reason."""

    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason


class Platform(OutboundAdapter, Protocol):
    """What the service needs of a platform besides sending."""

    def mount(self, web_app: web.Application) -> None:
        """Add the platform's HTTP routes, if it receives over HTTP in its configured mode."""
        ...

    async def start(self) -> None:
        """Connect; raise PlatformStartFailed when the platform refuses."""
        ...

    async def stop(self) -> None: ...


def configured_platforms(
    settings: Settings, dispatcher: Dispatcher, renderer: Renderer, clock: Clock
) -> list[Platform]:
    """The platforms the settings configure; each library is imported only when configured."""
    platforms: list[Platform] = []
    if settings.slack_configured:
        from bot.adapters.slack import SlackAdapter

        assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
        app_token = settings.slack_app_token
        platforms.append(
            SlackAdapter(
                dispatcher,
                renderer,
                clock,
                token=settings.slack_bot_token.get_secret_value(),
                signing_secret=settings.slack_signing_secret.get_secret_value(),
                api_url=settings.slack_api_url,
                app_token=app_token.get_secret_value() if app_token else None,
            )
        )
    if settings.telegram_configured:
        from bot.adapters.telegram import TelegramAdapter

        assert settings.telegram_bot_token is not None
        secret = settings.telegram_webhook_secret
        platforms.append(
            TelegramAdapter(
                dispatcher,
                renderer,
                clock,
                token=settings.telegram_bot_token.get_secret_value(),
                api_url=settings.telegram_api_url,
                webhook_url=settings.telegram_webhook_url,
                webhook_secret=secret.get_secret_value() if secret else None,
            )
        )
    return platforms

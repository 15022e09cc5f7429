"""Telegram: the python-telegram-bot adapter (long polling or a webhook).

The names below load their module on first use, so importing a light submodule (``poll_limits``,
which `uplift campaign validate` reads) does not import python-telegram-bot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.adapters.telegram.adapter import PLATFORM, TelegramAdapter
    from bot.adapters.telegram.formatting import MESSAGE_LIMIT, split_message
    from bot.adapters.telegram.limits import Limits

_WHERE = {
    "PLATFORM": "adapter",
    "TelegramAdapter": "adapter",
    "MESSAGE_LIMIT": "formatting",
    "split_message": "formatting",
    "Limits": "limits",
}

__all__ = ["MESSAGE_LIMIT", "PLATFORM", "Limits", "TelegramAdapter", "split_message"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)

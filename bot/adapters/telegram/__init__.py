"""Telegram: the python-telegram-bot adapter (long polling or a webhook)."""

from bot.adapters.telegram.adapter import (
    MESSAGE_LIMIT,
    PLATFORM,
    Pacer,
    TelegramAdapter,
    split_message,
)

__all__ = ["MESSAGE_LIMIT", "PLATFORM", "Pacer", "TelegramAdapter", "split_message"]

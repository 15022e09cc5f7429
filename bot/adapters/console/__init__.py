"""The console: a chat in the terminal, for the demo and for tests that read like a chat."""

from bot.adapters.console.adapter import PLATFORM, ConsoleChat

__all__ = ["PLATFORM", "ConsoleChat"]

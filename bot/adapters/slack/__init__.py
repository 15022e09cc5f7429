"""Slack: the bolt ``AsyncApp`` adapter, its Block Kit rendering and the app manifest."""

from bot.adapters.slack.adapter import PLATFORM, SlackAdapter

__all__ = ["PLATFORM", "SlackAdapter"]

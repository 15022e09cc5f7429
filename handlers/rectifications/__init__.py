"""Rectifications (整改): owners close them with a note, supervisors reopen; reminders before and
after the deadline."""

from handlers.rectifications.rectifications import register, remind_rectification_owners

__all__ = ["register", "remind_rectification_owners"]

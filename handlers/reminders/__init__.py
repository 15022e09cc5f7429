"""Reminders: /remind and /reminders, delivered in the unit's time zone."""

from handlers.reminders.reminders import deliver_reminders, register

__all__ = ["deliver_reminders", "register"]

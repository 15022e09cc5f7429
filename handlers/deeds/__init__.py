"""Good deeds (好人好事): reported by anyone, approved by a supervisor, scored by the plan."""

from handlers.deeds.deeds import register

__all__ = ["register"]

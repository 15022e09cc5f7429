"""Housekeeping: forgetting processed platform event ids once no platform would retry them."""

from handlers.housekeeping.housekeeping import forget_old_event_ids

__all__ = ["forget_old_event_ids"]

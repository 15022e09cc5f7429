"""Self-checks (自查): the unit's checklist item by item; failures become rectifications."""

from handlers.selfchecks.selfchecks import register, weighted_score

__all__ = ["register", "weighted_score"]

"""Observations: praise, complaints, suggestions and hazards; first to claim owns it,
escalation when late."""

from handlers.observations.observations import escalate_overdue, register

__all__ = ["escalate_overdue", "register"]

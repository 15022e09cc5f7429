"""Inspections (检查): a supervisor records one; the plan's assessment is computed and announced."""

from handlers.inspections.inspections import register

__all__ = ["register"]

"""Points: /score and /leaderboard, every number a sum over the ledger."""

from handlers.points.points import register, shown_name

__all__ = ["register", "shown_name"]

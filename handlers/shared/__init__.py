"""Helpers every feature may use: calendar and local time, date phrases, plan access, units,
the outbox, the ledger, streaks, locale. Nothing here imports a feature or the framework."""

"""Members: /join, /start with an invitation, /invite, /bind a group chat, /role."""

from handlers.members.members import register

__all__ = ["register"]

"""Templates per locale and the renderer that escapes user text for each platform."""

from messages.render import LOCALES, Renderer, Safe, Target, escape_for, normalise_locale

__all__ = ["LOCALES", "Renderer", "Safe", "Target", "escape_for", "normalise_locale"]

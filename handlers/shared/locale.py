"""Which language to answer in: the person's choice, then their platform's, then their unit's."""

from __future__ import annotations

from messages import normalise_locale

__all__ = ["normalise_locale", "pick_locale"]


def pick_locale(*candidates: str | None, fallback: str) -> str:
    for candidate in candidates:
        if (locale := normalise_locale(candidate)) is not None:
            return locale
    return normalise_locale(fallback) or "zh"

"""Which language to answer in: the person's choice, then their platform's, then their unit's."""

from __future__ import annotations

from messages import LOCALES


def normalise_locale(code: str | None) -> str | None:
    """Map a platform's code (en-US, zh-CN, zh-hans, zh_TW) onto one we ship, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].casefold()
    return base if base in LOCALES else None


def pick_locale(*candidates: str | None, fallback: str) -> str:
    for candidate in candidates:
        if (locale := normalise_locale(candidate)) is not None:
            return locale
    return normalise_locale(fallback) or "zh"

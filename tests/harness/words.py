"""What the bot prints, for assertions: a template rendered as the console shows it."""

from __future__ import annotations

from typing import Any

from kernel import Text
from messages import Renderer

RENDER = Renderer()


def said(template: str, locale: str = "en", **data: Any) -> str:
    """What the bot prints for ``template`` with ``data``, as the console shows it."""
    return RENDER.render(Text(template, data), locale)

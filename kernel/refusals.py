"""Refusing politely: a handler raises ``Refusal`` to roll back its work and say why."""

from __future__ import annotations

from typing import Any


def number(value: str, refusal: str = "errors/stale_button") -> int:
    """A whole number from a button's value or typed text; anything else is refused."""
    try:
        return int(value)
    except ValueError:
        raise Refusal(refusal) from None


class Refusal(Exception):
    """Stop handling, roll back anything written, and answer with ``template``."""

    def __init__(self, template: str, /, **data: Any) -> None:
        super().__init__(template)
        self.template = template
        self.data = data

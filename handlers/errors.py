"""Refusing politely: a handler raises ``Refusal`` to roll back its work and say why."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """Stop handling, roll back anything written, and answer with ``template``."""

    def __init__(self, template: str, /, **data: Any) -> None:
        super().__init__(template)
        self.template = template
        self.data = data

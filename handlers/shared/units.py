"""Small helpers about units shared by features: naming one, finding one, offering a choice."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.shared.names import some_names
from kernel import Choice, FormField, Text
from storage.models import Unit


def unit_name(unit: Unit | None, locale: str) -> str:
    if unit is None:
        return ""
    return unit.name_zh if locale == "zh" else unit.name_en


def unit_named(units: Iterable[Unit], text: str) -> Unit | None:
    """The unit whose key or Chinese or English name is ``text`` (case-insensitive)."""
    wanted = text.strip().casefold()
    return next(
        (
            u
            for u in units
            if wanted in (u.key.casefold(), u.name_zh.casefold(), u.name_en.casefold())
        ),
        None,
    )


def units_like(units: Iterable[Unit], text: str) -> list[Unit]:
    """The units whose key or either name contains ``text``, any case."""
    wanted = text.strip().casefold()
    return [u for u in units if wanted in f"{u.key} {u.name_zh} {u.name_en}".casefold()]


def unit_keys_like(units: Iterable[Unit], text: str) -> Text:
    """The keys of the units like ``text`` (every unit when none is), a handful named and the
    rest counted: the hint after a unit was not found stays short in an organisation of 2,000
    outlets."""
    every = list(units)
    like = units_like(every, text) if text.strip() else []
    return some_names([u.key for u in like or every])


def unit_label(unit: Unit) -> Text:
    """The unit's name in whatever language the message is read in."""
    return Text("shared/unit_name", {"zh": unit.name_zh, "en": unit.name_en})


def unit_choice(name: str, label: Text, units: Iterable[Unit]) -> FormField:
    """A form field picking one unit, shown in the reader's language."""
    choices = tuple(Choice(str(u.id), unit_label(u)) for u in units)
    return FormField(name, label, "choice", choices=choices)

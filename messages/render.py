"""Rendering templates per locale and per target, with user text always escaped.

Templates live in ``messages/<locale>/<name>.j2``. A template missing in one language falls back
to the other. Every value a template prints passes through the target's escaping, so user text can
never inject markup, links or mass mentions; formatting comes only from the filters below
(``bold``, ``italic``, ``code``), which escape their input first.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
)

from kernel import Text

LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"
TEMPLATE_ROOT = Path(__file__).parent


def normalise_locale(code: str | None) -> str | None:
    """Map a platform's code (en-US, zh-CN, zh-hans, zh_TW) onto one we ship, or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-")[0].casefold()
    return base if base in LOCALES else None


class Target(StrEnum):
    PLAIN = "plain"  # the console, logs, CLI output
    SLACK = "slack"  # Slack mrkdwn
    TELEGRAM = "telegram"  # Telegram HTML parse mode


class Safe(str):
    """Text already escaped for the target: printed as is."""


_INVISIBLE_SEPARATOR = "\u2060"
_MASS_MENTIONS = re.compile(r"@(channel|here|everyone|all)\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape_for(target: Target, value: Any) -> Safe:
    """Escape one value for ``target``; mass mentions are broken on every target."""
    if isinstance(value, Safe):
        return value
    text = _CONTROL.sub("", str(value))
    text = _MASS_MENTIONS.sub(lambda m: "@" + _INVISIBLE_SEPARATOR + m.group(1), text)
    if target is Target.SLACK:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    elif target is Target.TELEGRAM:
        text = html.escape(text, quote=False)
    return Safe(text)


_WRAPS: dict[Target, dict[str, tuple[str, str]]] = {
    Target.PLAIN: {"bold": ("", ""), "italic": ("", ""), "code": ("", "")},
    Target.SLACK: {"bold": ("*", "*"), "italic": ("_", "_"), "code": ("`", "`")},
    Target.TELEGRAM: {
        "bold": ("<b>", "</b>"),
        "italic": ("<i>", "</i>"),
        "code": ("<code>", "</code>"),
    },
}


class Renderer:
    """Renders neutral ``Text`` into a string for one target, in one locale."""

    def __init__(self, root: Path = TEMPLATE_ROOT) -> None:
        self._environments = {
            (locale, target): self._environment(root, locale, target)
            for locale in LOCALES
            for target in Target
        }

    def render(self, text: Text, locale: str, target: Target = Target.PLAIN) -> str:
        template = self.template(text.template, locale, target)
        data = {key: self._nested(value, locale, target) for key, value in text.data.items()}
        return template.render(**data).strip()

    def template(self, name: str, locale: str, target: Target = Target.PLAIN) -> Template:
        """The compiled template ``name`` in ``locale`` (or the other); LookupError if none."""
        environment = self._environments[(_known(locale), target)]
        try:
            return environment.get_template(f"{name}.j2")
        except TemplateNotFound:
            raise LookupError(f"no template {name!r} in any locale") from None

    def _nested(self, value: Any, locale: str, target: Target) -> Any:
        """Texts inside the data (a role name, lines of a list) are rendered first."""
        if isinstance(value, Text):
            return Safe(self.render(value, locale, target))
        if isinstance(value, list | tuple):
            return [self._nested(item, locale, target) for item in value]
        if isinstance(value, Mapping):
            return {key: self._nested(item, locale, target) for key, item in value.items()}
        return value

    def has(self, template: str, locale: str) -> bool:
        """Whether ``template`` can be rendered in ``locale`` (itself or by fallback)."""
        try:
            self.template(template, locale)
        except LookupError:
            return False
        return True

    @staticmethod
    def _environment(root: Path, locale: str, target: Target) -> Environment:
        fallback = [other for other in LOCALES if other != locale]
        loader = ChoiceLoader([FileSystemLoader(str(root / code)) for code in (locale, *fallback)])
        environment = Environment(
            loader=loader,
            autoescape=False,
            undefined=StrictUndefined,
            finalize=lambda value: escape_for(target, value),
            keep_trailing_newline=False,
            trim_blocks=False,
            lstrip_blocks=True,
        )
        for name, (before, after) in _WRAPS[target].items():
            environment.filters[name] = _wrapper(target, before, after)
        environment.filters["date"] = _format_date(locale)
        environment.filters["datetime"] = _format_datetime(locale)
        environment.filters["number"] = _format_number
        environment.filters["plural"] = _counted
        environment.filters["join"] = _joiner(target)
        environment.globals["locale"] = locale
        return environment


def _known(locale: str) -> str:
    return locale if locale in LOCALES else DEFAULT_LOCALE


def _wrapper(target: Target, before: str, after: str) -> Callable[[Any], Safe]:
    def wrap(value: Any) -> Safe:
        return Safe(before + escape_for(target, value) + after)

    return wrap


_WEEKDAYS = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def _format_date(locale: str) -> Callable[[dt.date], str]:
    def format_date(value: dt.date) -> str:
        weekday = _WEEKDAYS[locale][value.weekday()]
        if locale == "zh":
            return f"{value.year}年{value.month}月{value.day}日({weekday})"
        return f"{weekday} {value.day} {value:%b %Y}"

    return format_date


def _format_datetime(locale: str) -> Callable[[dt.datetime, str], str]:
    def format_datetime(value: dt.datetime, zone: str = "UTC") -> str:
        local = value.astimezone(ZoneInfo(zone))
        return f"{_format_date(locale)(local.date())} {local:%H:%M}"

    return format_datetime


def _joiner(target: Target) -> Callable[..., Safe]:
    """Jinja's join, escaping each item once (rendered texts inside are already safe)."""

    def join(values: Any, separator: str = "") -> Safe:
        return Safe(separator.join(escape_for(target, value) for value in values))

    return join


def _format_number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _counted(value: Any, singular: str, plural: str | None = None) -> str:
    """``{{ n | plural("run") }}``: the count with its noun agreeing (``1 run``, ``2 runs``).

    ``value`` may already be formatted (``{{ n | number | plural("point") }}``); an irregular
    plural is given (``plural("person", "people")``). Words in Chinese have no plural: the Chinese
    templates do not use it."""
    return f"{value} {singular if _is_one(value) else plural or _plural_of(singular)}"


def _is_one(value: Any) -> bool:
    try:
        return abs(float(str(value).replace(",", ""))) == 1
    except ValueError:
        return False


def _plural_of(word: str) -> str:
    """The regular English plural of the last word (``good deed`` → ``good deeds``)."""
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"

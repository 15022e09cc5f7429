"""argparse in the language of the ``uplift`` command: its own words too.

argparse prints a few words of its own ("usage:", "options", "show this help message and exit",
"the following arguments are required: …"), looked up through ``gettext`` as it builds a
parser, formats help and reports an error. A parser from ``parser_class(locale)`` answers those
look-ups from ``messages/<locale>/cli/argparse/`` while it works, and puts argparse's own look-up
back afterwards. The CLI runs on one thread, so lending argparse a look-up for the duration of a
call is safe; words argparse may add in a later Python stay in English rather than break.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from kernel import Role, Text
from messages import Renderer
from messages.vocabulary import shipped_vocabulary

# argparse's words (its gettext message ids) and the templates that say them.
WORDS: dict[str, str] = {
    "usage: ": "usage",
    "options": "options",
    "positional arguments": "positional_arguments",
    "show this help message and exit": "help",
    "%(prog)s: error: %(message)s\n": "error",
    "the following arguments are required: %s": "required",
    "argument %(argument_name)s: %(message)s": "argument",
    "invalid choice: %(value)r (choose from %(choices)s)": "invalid_choice",
    "unrecognized arguments: %s": "unrecognized",
    "expected one argument": "expected_one",
    "expected at most one argument": "expected_at_most_one",
    "expected at least one argument": "expected_at_least_one",
    "invalid %(type)s value: %(value)r": "invalid_value",
    "ambiguous option: %(option)s could match %(matches)s": "ambiguous",
    "not allowed with argument %s": "not_allowed_with",
    "one of the arguments %s is required": "one_required",
    "ignored explicit argument %r": "ignored_explicit",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "unknown_parser",
}
# Words argparse counts (``ngettext``), by their singular id.
COUNTED: dict[str, str] = {"expected %s argument": "expected_count"}


@functools.cache
def _renderer() -> Renderer:
    return Renderer()


def argparse_word(message: str, locale: str) -> str:
    """argparse's ``message`` in ``locale``; one it does not know stays as argparse says it."""
    name = WORDS.get(message)
    if name is None:
        return message
    said = _renderer().render(Text(f"cli/argparse/{name}"), locale)
    return said + message[len(message.rstrip()) :]  # "usage: " keeps its space, errors their \n


def argparse_count(singular: str, plural: str, count: int, locale: str) -> str:
    """argparse's counted ``singular``/``plural`` in ``locale``."""
    name = COUNTED.get(singular)
    if name is None:
        return singular if count == 1 else plural
    return _renderer().render(Text(f"cli/argparse/{name}", {"count": count}), locale)


@contextlib.contextmanager
def _speaking(locale: str) -> Iterator[None]:
    """argparse looks its words up in ``locale`` inside the block."""
    looked_up = argparse.__dict__
    before = looked_up["_"], looked_up["ngettext"]
    looked_up["_"] = functools.partial(argparse_word, locale=locale)
    looked_up["ngettext"] = functools.partial(argparse_count, locale=locale)
    try:
        yield
    finally:
        looked_up["_"], looked_up["ngettext"] = before


class LocalParser(argparse.ArgumentParser):
    """An ArgumentParser whose every word is in ``locale``; its subparsers are of its class."""

    locale = "en"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _speaking(self.locale):
            super().__init__(*args, **kwargs)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        with _speaking(self.locale):
            return super().parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        with _speaking(self.locale):
            return super().format_usage()

    def format_help(self) -> str:
        with _speaking(self.locale):
            return super().format_help()

    def error(self, message: str) -> NoReturn:
        with _speaking(self.locale):
            super().error(message)


def parser_class(locale: str) -> type[LocalParser]:
    """The parser class for ``locale`` (a class, so argparse makes subparsers of it too)."""
    return type(f"LocalParser_{locale}", (LocalParser,), {"locale": locale})


def role_argument(refusal: Callable[[str], str]) -> Callable[[str], Role]:
    """An argparse ``type`` reading a role in any language (``主管``, ``supervisor``);
    ``refusal(given)`` says what went wrong, in the CLI's language."""

    def role(given: str) -> Role:
        found = shipped_vocabulary().role(given)
        if found is None:
            raise argparse.ArgumentTypeError(refusal(given))
        return found

    return role

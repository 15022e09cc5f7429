"""A list of people in a message, kept short: a message names at most a handful and counts the
rest ("Wang Fang, Li Qiang and 284 more"), so a unit of 300 never floods a chat."""

from __future__ import annotations

from collections.abc import Sequence

from kernel import Text

NAMES_SHOWN = 10


def some_names(names: Sequence[str], shown: int = NAMES_SHOWN) -> Text:
    """The first ``shown`` names and how many more there are."""
    return Text("shared/names", {"names": list(names[:shown]), "more": max(0, len(names) - shown)})

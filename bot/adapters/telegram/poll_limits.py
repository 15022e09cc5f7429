"""What a Telegram quiz poll can carry (Bot API, sendPoll): a question of 1–300 characters, 2–12
options of 1–100 characters, an explanation of at most 200 characters with at most two line
feeds. No platform library here, so ``uplift campaign validate`` can warn about a plan's drills
without importing python-telegram-bot.

Options: the Bot API allowed 2–10 until 9.1 raised the most to 12 (and 10.0 lowered the least to
1), as python-telegram-bot 22.8 documents (``telegram.constants.PollLimit``). A quiz of one
option asks nothing, so ours stays at 2 or more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.adapters.telegram.formatting import units

QUESTION_LIMIT = 300
OPTION_LIMIT = 100
OPTIONS_MIN, OPTIONS_MAX = 2, 12
EXPLANATION_LIMIT = 200
EXPLANATION_LINE_FEEDS = 2


@dataclass(frozen=True)
class PollMisfit:
    """Why a drill cannot be a quiz poll: which part, how long it is, and the limit."""

    part: str  # question | option | options | explanation | explanation_lines
    length: int
    limit: int
    option: int | None = None  # which option (0-based), for an option too long


def why_not_a_poll(question: str, options: Sequence[str], explanation: str) -> list[PollMisfit]:
    """Every reason a quiz poll would refuse this question; empty when it fits. Lengths are
    what Telegram counts (UTF-16 code units: an emoji is two)."""
    misfits = []
    if not 1 <= units(question) <= QUESTION_LIMIT:
        misfits.append(PollMisfit("question", units(question), QUESTION_LIMIT))
    if not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
        misfits.append(PollMisfit("options", len(options), OPTIONS_MAX))
    misfits += [
        PollMisfit("option", units(option), OPTION_LIMIT, index)
        for index, option in enumerate(options)
        if not 1 <= units(option) <= OPTION_LIMIT
    ]
    if units(explanation) > EXPLANATION_LIMIT:
        misfits.append(PollMisfit("explanation", units(explanation), EXPLANATION_LIMIT))
    if explanation.count("\n") > EXPLANATION_LINE_FEEDS:
        misfits.append(
            PollMisfit("explanation_lines", explanation.count("\n"), EXPLANATION_LINE_FEEDS)
        )
    return misfits

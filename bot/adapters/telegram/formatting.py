"""Texts cut to Telegram's sizes without breaking them: messages split on whole HTML escapes and
tags, poll texts and button labels shortened visibly (with an ellipsis), never silently.

Lengths are counted in UTF-16 code units, as Telegram counts entity offsets: never fewer than
characters, so a text that fits here fits whatever Telegram counts. A message is measured as the
HTML sent, which is never shorter than the text Telegram shows.
"""

from __future__ import annotations

import html
import re

MESSAGE_LIMIT = 4096  # sendMessage text: 1-4096 characters after entities parsing
CAPTION_LIMIT = 1024  # sendPhoto/sendDocument caption: 0-1024 characters after entities parsing
ELLIPSIS = "…"

# A tag, an escape, a line feed, a run of plain text, or a stray < or & (the renderer makes none).
_PIECE = re.compile(r"<[^<>]*>|&#?\w+;|\n|[^<&\n]+|[<&]")
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*?(/?)>")
_MARKUP = re.compile(r"<[^<>]*>")


def units(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def shortened(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` units, else cut with an ellipsis at the end."""
    if units(text) <= limit:
        return text
    cut = text
    while units(cut) > limit - units(ELLIPSIS):
        cut = cut[: -max(1, (units(cut) - limit + units(ELLIPSIS)) // 2)]
    return cut.rstrip() + ELLIPSIS


def visible(markup: str) -> str:
    """The text Telegram shows for HTML: tags gone, escapes read."""
    return html.unescape(_MARKUP.sub("", markup))


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split HTML into parts of at most ``limit`` units, at line ends where a line fits. A longer
    line is cut between characters, escapes and tags, never inside one; a tag open where a part
    ends is closed there and opened again at the start of the next part."""
    parts: list[str] = []
    opened: list[tuple[str, str]] = []  # (name, opening tag) open at the end of ``pieces``
    pieces: list[str] = []
    size = 0

    def close_part() -> None:
        nonlocal pieces, size
        body = "".join(pieces).rstrip("\n")
        if visible(body).strip():
            parts.append(body + _closing(opened))
        reopened = "".join(tag for _, tag in opened)
        pieces, size = [reopened], units(reopened)

    def fits(piece: str, after: list[tuple[str, str]]) -> bool:
        return size + units(piece) + units(_closing(after)) <= limit

    for line in text.splitlines(keepends=True):
        after = _track(opened, line)
        if not fits(line, after) and pieces:
            close_part()
            after = _track(opened, line)
        if fits(line, after):
            pieces.append(line)
            size += units(line)
            opened = after
            continue
        for piece in _pieces(line):
            after = _track(opened, piece)
            if not fits(piece, after):
                close_part()
            pieces.append(piece)
            size += units(piece)
            opened = after
    close_part()
    return parts or [" "]


def _pieces(line: str) -> list[str]:
    """A line as the smallest pieces it may be cut between: tags, escapes, characters."""
    found: list[str] = []
    for match in _PIECE.finditer(line):
        piece = match.group()
        if piece[0] in "<&" and len(piece) > 1:
            found.append(piece)
        else:
            found.extend(piece)
    return found


def _track(opened: list[tuple[str, str]], markup: str) -> list[tuple[str, str]]:
    """The tags open after ``markup``, given those open before it."""
    if "<" not in markup:
        return opened
    after = list(opened)
    for match in _TAG.finditer(markup):
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if self_closing:
            continue
        if not closing:
            after.append((name, match.group()))
            continue
        for index in range(len(after) - 1, -1, -1):
            if after[index][0] == name:
                del after[index]
                break
    return after


def _closing(opened: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(opened))

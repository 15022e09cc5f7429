"""Neutral replies as Slack Block Kit, and Slack's payloads back as neutral values.

Pure functions, no network: what a reply looks like in Slack (sections of escaped mrkdwn, button
rows, quiz options as buttons, forms as modals) and how a modal's submitted state reads back.
Slack's limits are kept here (the numbers come from Slack's Block Kit reference; the fake Slack in
tests/fakes/slack_api.py refuses anything beyond them, as Slack does):

- 3,000 characters a section, split only between whole mrkdwn escapes and never inside a link;
- 25 buttons an actions block, 75 characters a button label: when a label would be cut (a long
  drill option, say), the labels are listed in full in the message and the buttons say A, B, C…;
- 50 blocks a message, 100 a modal;
- 100 options a static select, 75 characters an option: a field with more choices is an external
  select whose options Slack asks for as the person types (``matching_options``);
- 24 characters a modal's title, submit and close labels, 3,000 its private metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.adapters import letter
from handlers.framework.forms import matching_choices
from kernel import Choice, Form, FormField, Reply, Text
from messages import Renderer, Target, escape_for

SECTION_LIMIT = 3000
BUTTONS_PER_ROW = 25
BUTTON_LABEL_LIMIT = 75
MAX_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
MAX_OPTIONS = 100
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
MODAL_TITLE_LIMIT = 24
FALLBACK_LIMIT = 3000
ACTION_SEPARATOR = "#"
MIN_QUERY_LENGTH = 0  # an external select asks for options as soon as it opens
_ELLIPSIS = "…"
# What one cut may not split: an escape the renderer wrote (&amp; &lt; &gt;), a link or mention
# it made (<https://…|label>, <@U123>: escaped user text has no raw "<"), or one character.
_ATOM = re.compile(r"&(?:amp|lt|gt);|<[^<>\n]{1,3000}>|.", re.DOTALL)


def action_id(action: str, index: int) -> str:
    """Slack wants action ids unique within a message: the neutral action plus a position."""
    return f"{action}{ACTION_SEPARATOR}{index}"


def neutral_action(slack_action_id: str) -> str:
    return slack_action_id.split(ACTION_SEPARATOR, 1)[0]


def message_blocks(
    reply: Reply, locale: str, renderer: Renderer
) -> tuple[list[dict[str, Any]], str]:
    """The blocks of a message and its fallback text (for notifications and old clients)."""
    sections: list[str] = []
    rows: list[dict[str, Any]] = []
    shown: list[str] = []  # the fallback is read as mrkdwn too: it is escaped the same way
    if reply.text is not None:
        rendered = renderer.render(reply.text, locale, Target.SLACK)
        sections += _chunks(rendered)
        shown.append(rendered)
    if reply.quiz is not None:
        quiz = reply.quiz
        question = escape_for(Target.SLACK, quiz.question)
        sections += _chunks(question)
        shown.append(question)
        listed, labels = _choices(list(quiz.options), list(quiz.options), locale, renderer)
        sections += _chunks(listed) if listed else []
        shown += [listed] if listed else []
        rows += _rows(
            [
                _button(label, quiz.action, f"{quiz.ref}:{i}", i, "default")
                for i, label in enumerate(labels)
            ]
        )
    if reply.buttons:
        plain = [renderer.render(b.label, locale) for b in reply.buttons]
        listed, labels = _choices(plain, [b.label for b in reply.buttons], locale, renderer)
        sections += _chunks(listed) if listed else []
        shown += [listed] if listed else []
        rows += _rows(
            [
                _button(label, b.action, b.value, i, b.style)
                for i, (label, b) in enumerate(zip(labels, reply.buttons, strict=True))
            ]
        )
    # Over the block limit, the text gives way (cut with a mark), never the buttons.
    room = MAX_BLOCKS - len(rows)
    if len(sections) > room:
        sections = [*sections[: max(room - 1, 0)], _ELLIPSIS]
    blocks = [_section(text) for text in sections] + rows
    fallback = cut("\n".join(shown), FALLBACK_LIMIT) or " "
    return blocks[:MAX_BLOCKS], fallback


def _choices(
    plain: Sequence[str], shown: Sequence[str | Text], locale: str, renderer: Renderer
) -> tuple[str, list[str]]:
    """Button labels for choices whose plain labels are ``plain``: the labels themselves when
    all fit a button, else letters, with the full choices listed for the message body."""
    if all(len(label.strip()) <= BUTTON_LABEL_LIMIT for label in plain):
        return "", list(plain)
    lines = [
        renderer.render(
            Text("slack/option", {"letter": letter(i), "text": text}), locale, Target.SLACK
        )
        for i, text in enumerate(shown)
    ]
    return "\n".join(lines), [letter(i) for i in range(len(plain))]


def modal_view(
    form: Form,
    locale: str,
    renderer: Renderer,
    metadata: Mapping[str, Any],
    kept: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A form as a modal; ``metadata`` (the form's state, the channel) comes back on submission.

    ``kept`` maps a field with too many choices for a select (``needs_search``) to the token its
    choices were kept under: that field becomes an external select, and the token and the
    language travel in the metadata, for ``matching_options`` when Slack asks."""
    kept = dict(kept or {})
    private = {**metadata, "locale": locale}
    if kept:
        private["choices"] = kept
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": _plain(renderer.render(form.title, locale), MODAL_TITLE_LIMIT),
        "submit": _plain(renderer.render(form.submit, locale), MODAL_TITLE_LIMIT),
        "close": _plain(renderer.render(Text("slack/cancel"), locale), MODAL_TITLE_LIMIT),
        "private_metadata": json.dumps(private),
        "blocks": [
            block
            for field in form.fields
            for block in _field_blocks(field, locale, renderer, external=field.name in kept)
        ][:MAX_MODAL_BLOCKS],
    }


def _field_blocks(
    field: FormField, locale: str, renderer: Renderer, *, external: bool
) -> list[dict[str, Any]]:
    """A field's input; when a choice is too long for a select's option (a long checklist item),
    the choices are listed in full above it and each option starts with its letter."""
    labels = [renderer.render(c.label, locale) for c in field.choices[:MAX_OPTIONS]]
    if external or all(len(label.strip()) <= OPTION_TEXT_LIMIT for label in labels):
        return [_input(field, locale, renderer, external=external)]
    shown = [c.label for c in field.choices[:MAX_OPTIONS]]
    listing, letters = _choices(labels, shown, locale, renderer)
    lettered = [f"{mark}. {label}" for mark, label in zip(letters, labels, strict=True)]
    return [
        *(_section(text) for text in _chunks(listing)),
        _input(field, locale, renderer, labels=lettered),
    ]


def needs_search(field: FormField) -> bool:
    """More choices than a static select shows: Slack would silently drop the rest."""
    return len(field.choices) > MAX_OPTIONS


def view_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """The private metadata a modal carries back (empty when missing or not ours)."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def matching_options(
    choices: Sequence[Choice], typed: str, locale: str, renderer: Renderer
) -> list[dict[str, Any]]:
    """The options of an external select for what the person typed (the forms' own matching
    rule), in order, at most Slack's 100."""
    found = matching_choices(choices, typed, locale)[:MAX_OPTIONS]
    return [_option(renderer.render(choice.label, locale), choice.value) for _, choice in found]


def submitted_values(view: Mapping[str, Any]) -> dict[str, str]:
    """A modal's state as form values: one string per field; several choices joined by commas."""
    values: dict[str, str] = {}
    for block_id, elements in view.get("state", {}).get("values", {}).items():
        for element in elements.values():
            values[block_id] = _element_value(element)
    return values


def _element_value(element: Mapping[str, Any]) -> str:
    if element.get("selected_option"):
        return str(element["selected_option"]["value"])
    if element.get("selected_options") is not None:
        return ",".join(str(o["value"]) for o in element["selected_options"])
    if element.get("selected_users") is not None:
        return ",".join(element["selected_users"])
    if element.get("selected_date"):
        return str(element["selected_date"])
    return str(element.get("value") or "")


def _input(
    field: FormField,
    locale: str,
    renderer: Renderer,
    *,
    external: bool = False,
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The input block of a field; ``labels`` replace the choices' own labels on the options."""
    element: dict[str, Any]
    many = field.kind in ("members", "multi_choice")
    if field.choices and external:
        element = {
            "type": "multi_external_select" if many else "external_select",
            "action_id": field.name,
            "min_query_length": MIN_QUERY_LENGTH,
        }
    elif field.choices:
        choices = field.choices[:MAX_OPTIONS]
        shown = labels or [renderer.render(c.label, locale) for c in choices]
        options = [_option(label, c.value) for label, c in zip(shown, choices, strict=True)]
        kind = "multi_static_select" if many else "static_select"
        element = {"type": kind, "action_id": field.name, "options": options}
    elif field.kind == "date":
        element = {"type": "datepicker", "action_id": field.name}
    else:
        element = {
            "type": "plain_text_input",
            "action_id": field.name,
            "multiline": field.kind == "long_text",
        }
        if field.max_length:
            element["max_length"] = field.max_length
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name,
        "optional": not field.required,
        "label": _plain(renderer.render(field.label, locale), 2000),
        "element": element,
    }
    if field.hint is not None:
        block["hint"] = _plain(renderer.render(field.hint, locale), 2000)
    return block


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label, OPTION_TEXT_LIMIT), "value": value[:OPTION_VALUE_LIMIT]}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(label: str, action: str, value: str, index: int, style: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(label, BUTTON_LABEL_LIMIT),
        "action_id": action_id(action, index),
        "value": value,
    }
    if style in ("primary", "danger"):
        button["style"] = style
    return button


def _rows(buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": "actions", "elements": buttons[start : start + BUTTONS_PER_ROW]}
        for start in range(0, len(buttons), BUTTONS_PER_ROW)
    ]


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object (not mrkdwn: nothing is escaped), cut to ``limit`` with a mark."""
    text = text.strip() or " "
    return {
        "type": "plain_text",
        "text": text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS,
        "emoji": True,
    }


def cut(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to at most ``limit`` characters between whole atoms, marked if cut."""
    if len(text) <= limit:
        return text
    pieces = _pieces(text, limit - len(_ELLIPSIS))
    return next(pieces, "") + _ELLIPSIS


def _chunks(text: str) -> list[str]:
    """Escaped mrkdwn as sections of at most 3,000 characters: cut at line ends when a line
    fits, else between whole escapes and links (a cut ``&am|p;`` shows as garbage, a cut link as
    raw markup)."""
    chunks: list[str] = []
    chunk = ""
    for line in text.splitlines(keepends=True):
        if len(chunk) + len(line) <= SECTION_LIMIT:
            chunk += line
            continue
        if chunk.strip():
            chunks.append(chunk)
        chunk = ""
        if len(line) <= SECTION_LIMIT:
            chunk = line
            continue
        *whole, chunk = _pieces(line, SECTION_LIMIT)
        chunks += whole
    if chunk.strip():
        chunks.append(chunk)
    return chunks


def _pieces(text: str, limit: int) -> Iterator[str]:
    """``text`` in pieces of at most ``limit`` characters, each made of whole atoms."""
    piece = ""
    for atom in _ATOM.findall(text):
        if len(atom) > limit:  # a link longer than a whole section: nothing better to do
            atom = atom[:limit]
        if len(piece) + len(atom) > limit:
            yield piece
            piece = ""
        piece += atom
    if piece:
        yield piece

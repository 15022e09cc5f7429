"""Neutral replies as Slack Block Kit, and Slack's payloads back as neutral values.

Pure functions, no network: what a reply looks like in Slack (sections of escaped mrkdwn, button
rows, quiz options as buttons, forms as modals) and how a modal's submitted state reads back.
Slack's limits are kept here: 3,000 characters a section, 25 buttons a row, 75 a button label,
50 blocks a message, 100 options a select.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from kernel import Form, FormField, Reply, Text
from messages import Renderer, Target, escape_for

SECTION_LIMIT = 3000
BUTTONS_PER_ROW = 25
BUTTON_LABEL_LIMIT = 75
MAX_BLOCKS = 50
MAX_OPTIONS = 100
MODAL_TITLE_LIMIT = 24
FALLBACK_LIMIT = 3000
ACTION_SEPARATOR = "#"


def action_id(action: str, index: int) -> str:
    """Slack wants action ids unique within a message: the neutral action plus a position."""
    return f"{action}{ACTION_SEPARATOR}{index}"


def neutral_action(slack_action_id: str) -> str:
    return slack_action_id.split(ACTION_SEPARATOR, 1)[0]


def message_blocks(
    reply: Reply, locale: str, renderer: Renderer
) -> tuple[list[dict[str, Any]], str]:
    """The blocks of a message and its fallback text (for notifications and old clients)."""
    blocks: list[dict[str, Any]] = []
    shown: list[str] = []  # the fallback is read as mrkdwn too: it is escaped the same way
    if reply.text is not None:
        rendered = renderer.render(reply.text, locale, Target.SLACK)
        blocks += [_section(chunk) for chunk in _chunks(rendered)]
        shown.append(rendered)
    if reply.quiz is not None:
        quiz = reply.quiz
        question = escape_for(Target.SLACK, quiz.question)
        blocks += [_section(chunk) for chunk in _chunks(question)]
        shown.append(question)
        options = [
            _button(label, quiz.action, f"{quiz.ref}:{i}", i, "default")
            for i, label in enumerate(quiz.options)
        ]
        blocks += _rows(options)
    if reply.buttons:
        blocks += _rows(
            [
                _button(renderer.render(b.label, locale), b.action, b.value, i, b.style)
                for i, b in enumerate(reply.buttons)
            ]
        )
    fallback = "\n".join(shown)[:FALLBACK_LIMIT] or " "
    return blocks[:MAX_BLOCKS], fallback


def modal_view(
    form: Form, locale: str, renderer: Renderer, metadata: Mapping[str, str]
) -> dict[str, Any]:
    """A form as a modal; ``metadata`` (the form's state, the channel) comes back on submission."""
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": _plain(renderer.render(form.title, locale), MODAL_TITLE_LIMIT),
        "submit": _plain(renderer.render(form.submit, locale), MODAL_TITLE_LIMIT),
        "close": _plain(renderer.render(Text("slack/cancel"), locale), MODAL_TITLE_LIMIT),
        "private_metadata": json.dumps(dict(metadata)),
        "blocks": [_input(field, locale, renderer) for field in form.fields],
    }


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


def _input(field: FormField, locale: str, renderer: Renderer) -> dict[str, Any]:
    element: dict[str, Any]
    if field.choices:
        options = [
            {"text": _plain(renderer.render(c.label, locale), BUTTON_LABEL_LIMIT), "value": c.value}
            for c in field.choices[:MAX_OPTIONS]
        ]
        kind = (
            "multi_static_select" if field.kind in ("members", "multi_choice") else "static_select"
        )
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
    text = text.strip() or " "
    return {
        "type": "plain_text",
        "text": text if len(text) <= limit else text[: limit - 1] + "…",
        "emoji": True,
    }


def _chunks(text: str) -> Iterator[str]:
    """Split long text at line ends so each section stays under Slack's limit."""
    chunk = ""
    for line in text.splitlines(keepends=True):
        while len(line) > SECTION_LIMIT:
            if chunk:
                yield chunk
                chunk = ""
            yield line[:SECTION_LIMIT]
            line = line[SECTION_LIMIT:]
        if len(chunk) + len(line) > SECTION_LIMIT:
            yield chunk
            chunk = ""
        chunk += line
    if chunk.strip():
        yield chunk

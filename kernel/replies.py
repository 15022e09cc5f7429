"""What a handler wants shown: neutral replies that adapters render and send.

Nothing here is platform markup: a Text names a template under ``messages/<locale>/`` and the
data it fills in; buttons, forms and quizzes are mapped by each adapter to what its platform has.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, is_dataclass
from dataclasses import fields as dataclass_fields
from enum import StrEnum
from typing import Any, Literal


class Audience(StrEnum):
    CHAT = "chat"  # everyone in the conversation the event came from (group or private)
    PRIVATE = "private"  # one person, in their private chat with the bot
    EPHEMERAL = "ephemeral"  # one person only, shown inside the group (private where impossible)


@dataclass(frozen=True)
class Text:
    """A sentence to show: a template under ``messages/<locale>/`` and the data it fills in."""

    template: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    """A choice the person can press; the press comes back as an ACTION event."""

    label: Text
    action: str
    value: str = ""
    style: Literal["default", "primary", "danger"] = "default"


@dataclass(frozen=True)
class Choice:
    value: str
    label: Text

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "label": _jsonable(self.label)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Choice:
        return cls(data["value"], _text_required(data["label"]))


@dataclass(frozen=True)
class FormField:
    """One field of a multi-field form (a Slack modal, prompts in the console)."""

    name: str
    label: Text
    kind: Literal["text", "long_text", "number", "choice", "multi_choice", "date", "members"] = (
        "text"
    )
    required: bool = True
    choices: tuple[Choice, ...] = ()
    max_length: int | None = None
    hint: Text | None = None


@dataclass(frozen=True)
class Form:
    """A form whose submission comes back as a FORM event with ``action = form_id``."""

    form_id: str
    title: Text
    fields: tuple[FormField, ...]
    submit: Text
    state: str = ""  # echoed back in the event's ``value``


@dataclass(frozen=True)
class Quiz:
    """A multiple-choice question with one right answer (a Telegram quiz poll, Slack buttons).

    The texts are plan content in the audience's language, shown escaped."""

    question: str
    options: tuple[str, ...]
    correct_option: int  # 0-based
    explanation: str
    action: str  # the action an answer is routed to; the value is "<ref>:<option index>"
    ref: str  # e.g. the drill id


@dataclass(frozen=True)
class Attachment:
    """An image or a file to send (a report chart, a spreadsheet)."""

    filename: str
    content: bytes
    mime_type: str
    caption: Text | None = None


@dataclass(frozen=True)
class Reply:
    """What a handler wants shown. Adapters render and send it; nothing here is platform markup."""

    text: Text | None = None
    buttons: tuple[Button, ...] = ()
    form: Form | None = None
    quiz: Quiz | None = None
    image: Attachment | None = None
    file: Attachment | None = None
    to: Audience = Audience.CHAT
    member_id: int | None = None  # someone other than the sender: delivered via the outbox
    replace_pressed: bool = False  # edit the message whose button was pressed, if any

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form for the outbox."""
        return _jsonable(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        return cls(
            text=_text(data.get("text")),
            buttons=tuple(
                Button(_text_required(b["label"]), b["action"], b["value"], b["style"])
                for b in data.get("buttons", ())
            ),
            form=_form(data.get("form")),
            quiz=Quiz(**{**data["quiz"], "options": tuple(data["quiz"]["options"])})
            if data.get("quiz")
            else None,
            image=_attachment(data.get("image")),
            file=_attachment(data.get("file")),
            to=Audience(data.get("to", Audience.CHAT)),
            member_id=data.get("member_id"),
            replace_pressed=bool(data.get("replace_pressed", False)),
        )


def _jsonable(value: Any) -> Any:
    """JSON-safe, keeping what a template needs back: nested Texts, dates and bytes are tagged."""
    if isinstance(value, Text):
        return {"template": value.template, "data": _jsonable_data(value.data)}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclass_fields(value)}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _jsonable_data(value: Any) -> Any:
    """A template's data: a Text, a datetime or a date inside it must come back as itself."""
    if isinstance(value, Text):
        return {"__text__": _jsonable(value)}
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _jsonable_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable_data(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        # e.g. the report's summary data: its dates must come back as dates too
        return {f.name: _jsonable_data(getattr(value, f.name)) for f in dataclass_fields(value)}
    return _jsonable(value)


def _from_data(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"__text__"}:
            return _text_required(value["__text__"])
        if set(value) == {"__datetime__"}:
            return dt.datetime.fromisoformat(value["__datetime__"])
        if set(value) == {"__date__"}:
            return dt.date.fromisoformat(value["__date__"])
        return {k: _from_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_data(v) for v in value]
    return value


def _text(data: Mapping[str, Any] | None) -> Text | None:
    return None if data is None else _text_required(data)


def _text_required(data: Mapping[str, Any]) -> Text:
    return Text(data["template"], _from_data(dict(data.get("data", {}))))


def _form(data: Mapping[str, Any] | None) -> Form | None:
    if data is None:
        return None
    fields = tuple(
        FormField(
            name=f["name"],
            label=_text_required(f["label"]),
            kind=f["kind"],
            required=f["required"],
            choices=tuple(Choice(c["value"], _text_required(c["label"])) for c in f["choices"]),
            max_length=f["max_length"],
            hint=_text(f.get("hint")),
        )
        for f in data["fields"]
    )
    return Form(
        data["form_id"],
        _text_required(data["title"]),
        fields,
        _text_required(data["submit"]),
        data["state"],
    )


def _attachment(data: Mapping[str, Any] | None) -> Attachment | None:
    if data is None:
        return None
    return Attachment(
        filename=data["filename"],
        content=base64.b64decode(data["content"]["__bytes__"]),
        mime_type=data["mime_type"],
        caption=_text(data.get("caption")),
    )

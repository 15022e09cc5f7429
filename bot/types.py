"""The neutral Event and Reply: what every adapter turns platform traffic into and out of.

Handlers see only these types, never a Slack payload or a Telegram Update, so a feature is written
once and every platform (console, Slack, Telegram, and later others) only maps it.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, is_dataclass
from dataclasses import fields as dataclass_fields
from enum import StrEnum
from typing import Any, Literal


class EventKind(StrEnum):
    COMMAND = "command"  # /score, "@Uplift score", a keyword mapped to a command
    ACTION = "action"  # a button press or a quiz/poll answer
    FORM = "form"  # a submitted multi-field form (Slack modal, console prompts)
    TEXT = "text"  # free text: an answer inside a flow, or a keyword trigger


class Audience(StrEnum):
    CHAT = "chat"  # everyone in the conversation the event came from (group or private)
    PRIVATE = "private"  # one person, in their private chat with the bot
    EPHEMERAL = "ephemeral"  # one person only, shown inside the group (private where impossible)


@dataclass(frozen=True)
class Sender:
    """Who sent an event, as the platform knows them."""

    platform: str
    user_id: str
    display_name: str = ""
    workspace: str = ""  # Slack team id; empty elsewhere
    locale: str | None = None  # the platform's language for this person, if it tells


@dataclass(frozen=True)
class ChatRef:
    """Where an event happened."""

    platform: str
    chat_id: str
    is_group: bool
    workspace: str = ""


@dataclass(frozen=True)
class Event:
    """One thing a person did, in platform-neutral form."""

    kind: EventKind
    sender: Sender
    chat: ChatRef
    received_at: dt.datetime
    event_id: str | None = None  # the platform's own id, for dropping repeats
    command: str = ""  # lower case, without the slash
    args: str = ""
    text: str = ""
    action: str = ""  # a button's action id or a form's id
    value: str = ""  # a button's value
    form: Mapping[str, str] = field(default_factory=dict)
    photo_ref: str | None = None
    message_ref: str | None = None  # the platform message a pressed button sits on


@dataclass(frozen=True)
class Window:
    """The stretch of time a scheduler tick covers: pushes due in (since, until] fire now."""

    since: dt.datetime
    until: dt.datetime

    def covers(self, moment: dt.datetime) -> bool:
        return self.since < moment <= self.until


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

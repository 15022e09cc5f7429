"""What every adapter turns platform traffic into: one neutral Event per thing a person did.

Handlers see only these types, never a Slack payload or a Telegram Update, so a feature is written
once and every platform (console, Slack, Telegram, and later others) only maps it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    COMMAND = "command"  # /score, "@Uplift score", a keyword mapped to a command
    ACTION = "action"  # a button press or a quiz/poll answer
    FORM = "form"  # a submitted multi-field form (Slack modal, console prompts)
    TEXT = "text"  # free text: an answer inside a flow, or a keyword trigger


@dataclass(frozen=True)
class SenderRef:
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
    sender: SenderRef
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

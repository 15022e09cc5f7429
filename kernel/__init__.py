"""The shared vocabulary of Uplift, with no I/O: events in, replies out, the clock, roles, limits
and refusals. Every package may import it; it imports nothing of ours."""

from kernel.clock import Clock, MovableClock, SystemClock, Window
from kernel.events import ChatRef, Event, EventKind, SenderRef
from kernel.limits import MAX_BUTTONS, MAX_COMMAND_ARGS, MAX_NAME, MAX_REPORT_TEXT, MAX_TEXT
from kernel.refusals import Refusal, number
from kernel.replies import (
    Attachment,
    Audience,
    Button,
    Choice,
    Form,
    FormField,
    Quiz,
    Reply,
    Text,
)
from kernel.roles import ADMINS, EVERYONE, STAFF_AND_ABOVE, SUPERVISORS, Role

__all__ = [
    "ADMINS",
    "EVERYONE",
    "MAX_BUTTONS",
    "MAX_COMMAND_ARGS",
    "MAX_NAME",
    "MAX_REPORT_TEXT",
    "MAX_TEXT",
    "STAFF_AND_ABOVE",
    "SUPERVISORS",
    "Attachment",
    "Audience",
    "Button",
    "ChatRef",
    "Choice",
    "Clock",
    "Event",
    "EventKind",
    "Form",
    "FormField",
    "MovableClock",
    "Quiz",
    "Refusal",
    "Reply",
    "Role",
    "SenderRef",
    "SystemClock",
    "Text",
    "Window",
    "number",
]

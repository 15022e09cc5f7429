"""The console adapter: a chat in the terminal, and the fake backend tests talk to.

Lines starting with ``/`` are commands; a number picks one of the last numbered choices (buttons,
quiz options); a form is filled one field per line; anything else is free text. Pushes from the
outbox (drills, notices) are printed under a header naming the group chat they went to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.delivery import Destination
from bot.dispatcher import Dispatcher
from kernel import Attachment, ChatRef, Clock, Event, EventKind, Form, Reply, SenderRef, Text
from messages import Renderer, Target
from messages.vocabulary import shipped_vocabulary

PLATFORM = "console"
MULTIPLE = ("members", "multi_choice")  # form fields that take several numbers


@dataclass
class _FormFilling:
    """A form being filled in, one field per line."""

    form: Form
    locale: str
    values: dict[str, str] = field(default_factory=dict)

    @property
    def index(self) -> int:
        return len(self.values)


class ConsoleChat:
    """One person's chat with the bot in the terminal."""

    platform = PLATFORM

    def __init__(
        self,
        dispatcher: Dispatcher,
        renderer: Renderer,
        clock: Clock,
        sender: SenderRef,
        chat: ChatRef,
        output: TextIO,
        attachments_dir: Path,
    ) -> None:
        self._dispatcher = dispatcher
        self._renderer = renderer
        self._clock = clock
        self._sender = sender
        self._chat = chat
        self._output = output
        self._attachments_dir = attachments_dir
        self._choices: list[tuple[str, str]] = []  # (action, value) for typed numbers
        self._form: _FormFilling | None = None
        self._transcript: list[str] = []

    # --- input -------------------------------------------------------------------------------

    async def say(self, line: str) -> None:
        """Handle one typed line and print the answers."""
        line = line.rstrip("\n")
        if not line.strip() and self._form is None:
            return
        event = self._form_answer(line) if self._form else self._event_for(line)
        if event is not None:
            outcome = await self._dispatcher.handle(event)
            for reply in outcome.replies:
                self._show(reply, outcome.locale)

    def take_transcript(self) -> str:
        """Everything printed since the last call: what a test reads back."""
        printed, self._transcript = self._transcript, []
        return "\n".join(printed)

    def _event_for(self, line: str) -> Event:
        text = line.strip()
        if text.startswith("/"):
            head, _, args = text[1:].partition(" ")
            command = head.split("@", 1)[0].casefold()
            return self._event(EventKind.COMMAND, command=command, args=args.strip())
        if text.isdigit() and 1 <= int(text) <= len(self._choices):
            action, value = self._choices[int(text) - 1]
            return self._event(EventKind.ACTION, action=action, value=value)
        return self._event(EventKind.TEXT, text=text)

    def _form_answer(self, line: str) -> Event | None:
        filling = self._form
        assert filling is not None
        text = line.strip()
        if shipped_vocabulary().means(text, "console/cancel"):
            self._form = None
            self._print(self._render(Text("console/form_cancelled"), filling.locale))
            return None
        current = filling.form.fields[filling.index]
        skipped = text in ("", "-")
        if skipped and current.required:
            self._print(self._render(Text("console/form_required"), filling.locale))
            return None
        if skipped:
            text = ""
        elif current.choices:
            picked = _picked(text, len(current.choices), many=current.kind in MULTIPLE)
            if picked is None:
                template = (
                    "console/form_pick_many" if current.kind in MULTIPLE else "console/form_pick"
                )
                count = {"count": len(current.choices)}
                self._print(self._render(Text(template, count), filling.locale))
                return None
            text = ",".join(current.choices[n - 1].value for n in picked)
        elif current.max_length is not None and len(text) > current.max_length:
            limit = {"limit": current.max_length}
            self._print(self._render(Text("errors/too_long", limit), filling.locale))
            return None
        filling.values[current.name] = text
        if filling.index < len(filling.form.fields):
            self._prompt_field(filling)
            return None
        self._form = None
        return self._event(
            EventKind.FORM,
            action=filling.form.form_id,
            value=filling.form.state,
            form=dict(filling.values),
        )

    def _event(self, kind: EventKind, **fields: object) -> Event:
        return Event(
            kind=kind, sender=self._sender, chat=self._chat, received_at=self._clock.now(), **fields
        )  # type: ignore[arg-type]

    # --- output ------------------------------------------------------------------------------

    def pace(self, destination: Destination) -> dt.timedelta:
        """The terminal has no rate limits."""
        return dt.timedelta(0)

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        """Deliver an outbox message: print it under the chat it went to."""
        header = "console/private_header" if destination.is_private else "console/group_header"
        self._print(self._render(Text(header, {"chat": destination.chat_id}), locale))
        self._show(reply, locale)
        return None

    def _show(self, reply: Reply, locale: str) -> None:
        if reply.text is not None:
            self._print(self._render(reply.text, locale))
        if reply.buttons:
            self._offer(
                [(b.action, b.value) for b in reply.buttons],
                [self._render(b.label, locale) for b in reply.buttons],
            )
        if reply.quiz is not None:
            quiz = reply.quiz
            self._print(quiz.question)
            self._offer(
                [(quiz.action, f"{quiz.ref}:{i}") for i in range(len(quiz.options))],
                list(quiz.options),
            )
        for attachment in (reply.image, reply.file):
            if attachment is not None:
                self._save(attachment, locale)
        if reply.form is not None:
            self._form = _FormFilling(reply.form, locale)
            self._print(self._render(reply.form.title, locale))
            self._print(self._render(Text("console/form_intro"), locale))
            self._prompt_field(self._form)

    def _offer(self, choices: list[tuple[str, str]], labels: list[str]) -> None:
        self._choices = choices
        for number, label in enumerate(labels, start=1):
            self._print(f"  [{number}] {label}")

    def _prompt_field(self, filling: _FormFilling) -> None:
        current = filling.form.fields[filling.index]
        label = self._render(current.label, filling.locale)
        optional = (
            ""
            if current.required
            else " " + self._render(Text("console/form_optional"), filling.locale)
        )
        self._print(f"» {label}{optional}")
        if current.hint is not None:
            self._print("  " + self._render(current.hint, filling.locale))
        for number, choice in enumerate(current.choices, start=1):
            self._print(f"  [{number}] {self._render(choice.label, filling.locale)}")

    def _save(self, attachment: Attachment, locale: str) -> None:
        self._attachments_dir.mkdir(parents=True, exist_ok=True)
        # Only the name: a filename from elsewhere must not write outside the folder.
        path = self._attachments_dir / (Path(attachment.filename).name or "attachment")
        path.write_bytes(attachment.content)
        if attachment.caption is not None:
            self._print(self._render(attachment.caption, locale))
        self._print(self._render(Text("console/attachment_saved", {"path": str(path)}), locale))

    def _render(self, text: Text, locale: str) -> str:
        return self._renderer.render(text, locale, Target.PLAIN)

    def _print(self, text: str) -> None:
        self._transcript.append(text)
        print(text, file=self._output, flush=True)


def _picked(text: str, count: int, *, many: bool) -> list[int] | None:
    """Numbers typed for a choice field: one, or several ("1,3" / "1 3") for a members field."""
    parts = [p for p in text.replace("，", ",").replace(",", " ").split() if p]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= count for p in parts):
        return None
    if len(parts) > 1 and not many:
        return None
    return list(dict.fromkeys(int(p) for p in parts))

"""The console adapter: a chat in the terminal, and the fake backend tests talk to.

Lines starting with ``/`` are commands; a number picks a numbered choice (a button, a quiz
option); a form is filled one field per line; anything else is free text. Pushes from the outbox
(drills, notices) are printed under a header naming the group chat they went to.

Numbers are unique among the choices waiting for an answer: a message's choices are numbered after
those of every recent message not yet answered, so two notices each with a Claim button show [1]
and [2]. A message answered by its number keeps its numbers (a second press gets the handler's own
answer) until newer choices take them. Past 30 the numbers start again from the lowest ones free
on the screen (the numbers of messages long scrolled away are given up), so a chat that runs for
months keeps them short; anything else typed whose answer offers choices starts again at 1.

A form checks each value as it is typed; a command typed inside a form leaves it, kept with its
answers for the same command to go on with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bot.delivery import Destination
from bot.dispatcher import Dispatcher
from handlers.framework.forms import still_fitting
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
    command: str = ""  # the command that opened it, which opens it again to go on

    @property
    def index(self) -> int:
        return len(self.values)

    @property
    def key(self) -> tuple[str, str]:
        return self.form.form_id, self.form.state


ON_SCREEN = 8  # the latest messages with choices whose numbers can still be typed
WRAP_AFTER = 30  # numbers go on up to here, then start again from the lowest free ones


def _first_free_run(taken: set[int], length: int) -> int:
    """The smallest number from which ``length`` numbers in a row are all free."""
    first = 1
    while any(n in taken for n in range(first, first + length)):
        first += 1
    return first


@dataclass(frozen=True)
class _Offered:
    """A numbered choice on the screen: what typing its number sends, and which message (by
    its order) offered it, so the numbers of messages scrolled away are given up."""

    action: str
    value: str
    message: int


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
        self._choices: dict[int, _Offered] = {}  # by the number shown
        self._offers = 0  # messages that offered choices so far
        self._form: _FormFilling | None = None
        self._kept: dict[tuple[str, str], _FormFilling] = {}  # forms left for a command
        self._answered: set[int] = set()  # messages answered by a number typed
        self._opened_by = ""  # the command whose answers are being shown
        self._transcript: list[str] = []

    # --- input -------------------------------------------------------------------------------

    async def say(self, line: str) -> None:
        """Handle one typed line and print the answers."""
        line = line.rstrip("\n")
        if not line.strip() and self._form is None:
            return
        if self._form is None and self._kept and self._cancels(line):
            locale = next(iter(self._kept.values())).locale
            self._kept.clear()
            self._print(self._render(Text("console/form_cancelled"), locale))
            return
        left = self._form
        event = await self._form_answer(line) if self._form else self._event_for(line)
        if event is None:
            return
        left = left if left is not None and self._kept.get(left.key) is left else None
        outcome = await self._dispatcher.handle(event)
        opened = {(r.form.form_id, r.form.state) for r in outcome.replies if r.form is not None}
        if left is not None and left.key not in opened:
            self._tell_kept(left)  # unless the command goes on with that very form
        if event.kind is not EventKind.ACTION and any(r.buttons or r.quiz for r in outcome.replies):
            self._choices.clear()  # the person moved on: what they are asked now is numbered 1…
            self._answered.clear()
        command = event.kind is EventKind.COMMAND
        self._opened_by = f"/{event.command}" if command else ""
        try:
            for reply in outcome.replies:
                self._show(reply, outcome.locale_for(reply))
        finally:
            self._opened_by = ""

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
        if text.isdigit() and int(text) in self._choices:
            picked = self._choices[int(text)]
            self._answered.add(picked.message)
            return self._event(EventKind.ACTION, action=picked.action, value=picked.value)
        return self._event(EventKind.TEXT, text=text)

    @staticmethod
    def _cancels(line: str) -> bool:
        return shipped_vocabulary().means(line, "console/cancel")  # it strips

    async def _form_answer(self, line: str) -> Event | None:
        filling = self._form
        assert filling is not None
        text = line.strip()
        if self._cancels(text):
            self._form = None
            self._print(self._render(Text("console/form_cancelled"), filling.locale))
            return None
        if text.startswith("/"):
            self._put_aside(filling)
            return self._event_for(text)
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
        elif problem := self._dispatcher.field_problem(filling.form, current.name, text):
            self._print(self._render(problem, filling.locale))
            self._prompt_field(filling)
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

    def _put_aside(self, filling: _FormFilling) -> None:
        """A command typed inside a form: keep the form and its answers for it to go on later."""
        self._form = None
        self._kept[filling.key] = filling

    def _tell_kept(self, filling: _FormFilling) -> None:
        """Say how to go on with a form left for a command."""
        said = Text(
            "form/put_aside",
            {
                "title": filling.form.title,
                "done": filling.index,
                "count": len(filling.form.fields),
                "command": filling.command,
            },
        )
        self._print(self._render(said, filling.locale))

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
            self._open(reply.form, locale)

    def _open(self, form: Form, locale: str) -> None:
        """Start filling a form, or go on with the same form left earlier for a command."""
        kept = self._kept.pop((form.form_id, form.state), None)
        values = still_fitting(form, kept.values) if kept is not None else {}
        if len(values) >= len(form.fields):
            values = {}
        command = (kept.command if kept is not None else "") or self._opened_by
        filling = _FormFilling(form, locale, values, command)
        self._form = filling
        if values:
            resumed = {"title": form.title, "done": len(values), "count": len(form.fields)}
            self._print(self._render(Text("form/resumed", resumed), locale))
        else:
            self._print(self._render(form.title, locale))
            self._print(self._render(Text("console/form_intro"), locale))
        self._prompt_field(filling)

    def _offer(self, choices: list[tuple[str, str]], labels: list[str]) -> None:
        """Number a message's choices after those of the messages still waiting for an answer
        (and after the choices of the form field being asked): a number means one choice only."""
        self._offers += 1
        self._forget_scrolled_away()
        waiting = [n for n, c in self._choices.items() if c.message not in self._answered]
        asked = len(self._form.form.fields[self._form.index].choices) if self._form else 0
        first = max(*waiting, asked, 0) + 1
        if first + len(choices) - 1 > WRAP_AFTER:  # start again from the lowest numbers free
            first = _first_free_run(set(self._choices) | set(range(1, asked + 1)), len(choices))
        offered = zip(choices, labels, strict=True)
        for number, ((action, value), label) in enumerate(offered, start=first):
            self._choices[number] = _Offered(action, value, self._offers)
            self._print(f"  [{number}] {label}")

    def _forget_scrolled_away(self) -> None:
        """Choices of messages long scrolled away are no longer typed by number (the commands
        still reach them), so a long-running chat keeps its numbers short."""
        oldest = self._offers - ON_SCREEN
        for number in [n for n, c in self._choices.items() if c.message <= oldest]:
            del self._choices[number]

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

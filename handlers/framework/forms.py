"""Forms one field at a time, for platforms without native forms (Telegram).

The dispatcher turns a form reply into this flow: the form and the answers so far live in the
database (a Conversation), so a half-filled form survives a restart or a switch of device. When
the last field is answered, the form's own handler runs with the values, exactly as if a Slack
modal had been submitted.

A long choice (a unit of 300 colleagues, an organisation of 200 outlets) is shown a page at a
time with previous and next, and typing part of a name narrows it: no keyboard ever holds more
than ``MAX_BUTTONS`` buttons, and every choice stays reachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handlers.framework.context import Context
from handlers.framework.router import Router
from kernel import (
    EVERYONE,
    MAX_BUTTONS,
    Button,
    Choice,
    Event,
    EventKind,
    Form,
    FormField,
    Refusal,
    Reply,
    Role,
    Text,
)
from messages import Renderer

FLOW = "_form"
PARKED = "_form.parked"  # a form left for a command: no flow of its own, so free text passes it by
MULTIPLE = ("members", "multi_choice")  # fields that take several numbers, typed
# Choices on one page: with previous, next, "show all", skip and cancel a keyboard stays within
# MAX_BUTTONS.
PAGE = MAX_BUTTONS - 5
LABELS = Renderer()  # choice labels as plain text, to match what a person types


def register(router: Router) -> None:
    router.flow(FLOW, typed, roles=EVERYONE)
    router.action("_form.pick", picked, roles=EVERYONE)
    router.action("_form.skip", skipped, roles=EVERYONE)
    router.action("_form.cancel", cancelled, roles=EVERYONE)
    router.action("_form.page", paged, roles=EVERYONE)
    router.action("_form.all", shown_all, roles=EVERYONE)


async def start_form(ctx: Context, form: Form) -> None:
    """Begin walking ``form``; the first field is asked at once. The same form put aside by a
    command goes on where it was instead."""
    assert ctx.member is not None
    kept = await _parked_values(ctx, form)
    command = ctx.event.command if ctx.event.kind is EventKind.COMMAND else ""
    data = {"form": Reply(form=form).to_json()["form"], "values": kept, "command": command}
    await ctx.store.conversations.start(ctx.member.id, FLOW, "field", data, ctx.now())
    if kept:
        done, count = len(kept), len(form.fields)
        ctx.reply("form/resumed", to=ctx.personal, title=form.title, done=done, count=count)
    else:
        ctx.reply("form/start", to=ctx.personal, title=form.title)
    _ask(ctx, form, kept, _View())


async def cancels_a_form(ctx: Context) -> bool:
    """/cancel typed as a command while a form is open or put aside cancels it."""
    if ctx.member is None or not ctx.means(f"/{ctx.event.command}", "form/cancel"):
        return False
    conversation = await ctx.store.conversations.current(ctx.member.id)
    if conversation is None or conversation.flow not in (FLOW, PARKED):
        return False
    await cancelled(ctx)
    return True


async def put_aside(ctx: Context) -> bool:
    """A command typed inside a form leaves it: the form is kept, answers and all, for the same
    command to go on with it, and free text no longer goes to it. True when a form was put
    aside."""
    conversation = await ctx.store.conversations.current(ctx.member.id) if ctx.member else None
    if conversation is None or conversation.flow != FLOW or ctx.member is None:
        return False
    await ctx.store.conversations.start(
        ctx.member.id, PARKED, "parked", dict(conversation.data), ctx.now()
    )
    return True


async def tell_put_aside(ctx: Context) -> None:
    """After the command ran: say how to go on with the form, or that it was given up for the
    command's own conversation (one at a time)."""
    assert ctx.member is not None
    conversation = await ctx.store.conversations.current(ctx.member.id)
    if conversation is not None and conversation.flow == FLOW:
        return  # the command went on with the form itself
    if conversation is None or conversation.flow != PARKED:
        ctx.replies.insert(0, Reply(text=Text("form/given_up"), to=ctx.personal))
        return
    form, values, _ = _parsed(conversation.data)
    command = str(conversation.data.get("command", ""))
    said = {
        "title": form.title,
        "done": len(values),
        "count": len(form.fields),
        "command": f"/{command}" if command else "",
    }
    # Said first: the form was left before the command answered.
    ctx.replies.insert(0, Reply(text=Text("form/put_aside", said), to=ctx.personal))


def check_field(router: Router, form: Form, field: FormField, text: str) -> None:
    """Refuse a typed value as soon as it is typed, saying what is wanted: the form's own check
    (``router.field_check``) when it declares one, else the field's kind and length."""
    if field.max_length and len(text) > field.max_length:
        raise Refusal("errors/too_long", limit=field.max_length)
    if not text:
        return
    check = router.field_check_for(form.form_id)
    if check is not None:
        check(field.name, text)
    elif field.kind == "number" and not _is_number(text):
        raise Refusal("form/number_hint")


async def typed(ctx: Context) -> None:
    form, values, _ = await _state(ctx)
    text = ctx.event.text.strip()
    if ctx.means(text, "form/cancel"):
        await cancelled(ctx)
        return
    field = form.fields[len(values)]
    if field.choices:
        await _typed_for_choice(ctx, form, values, field, text)
        return
    if not text or ctx.means(text, "form/skip"):
        if field.required:
            raise Refusal("form/required")
        text = ""
    check_field(ctx.router, form, field, text)
    await _store(ctx, form, values, field, text)


async def _typed_for_choice(
    ctx: Context, form: Form, values: dict[str, str], field: FormField, text: str
) -> None:
    """Numbers pick; a skip word skips an optional field; other words narrow the list."""
    if ctx.means(text, "form/skip") and not field.required:
        await _store(ctx, form, values, field, "")
        return
    value = _numbers(text, field)
    if value is not None:
        await _store(ctx, form, values, field, value)
        return
    if not text or text.isdigit():
        raise Refusal("form/pick_hint", count=len(field.choices))
    view = _View(find=text)
    if not _matching(field, view.find, ctx.locale):
        raise Refusal("form/none_found", text=text)
    await _move(ctx, view)
    _ask(ctx, form, values, view)


async def picked(ctx: Context) -> None:
    form, values, _ = await _state(ctx)
    field = form.fields[len(values)]
    index = int(ctx.event.value) if ctx.event.value.isdigit() else -1
    if not field.choices or not 0 <= index < len(field.choices):
        raise Refusal("errors/stale_button")
    await _store(ctx, form, values, field, field.choices[index].value)


async def paged(ctx: Context) -> None:
    """Previous or next page of a long choice, in place of the message pressed."""
    form, values, view = await _state(ctx)
    field = form.fields[len(values)]
    page = int(ctx.event.value) if ctx.event.value.isdigit() else -1
    if not 0 <= page < _page_count(len(_matching(field, view.find, ctx.locale))):
        raise Refusal("errors/stale_button")
    view = _View(page=page, find=view.find)
    await _move(ctx, view)
    _ask(ctx, form, values, view, replace=True)


async def shown_all(ctx: Context) -> None:
    """Back from a search to the whole list."""
    form, values, _ = await _state(ctx)
    view = _View()
    await _move(ctx, view)
    _ask(ctx, form, values, view, replace=True)


async def skipped(ctx: Context) -> None:
    form, values, _ = await _state(ctx)
    field = form.fields[len(values)]
    if field.required:
        raise Refusal("form/required")
    await _store(ctx, form, values, field, "")


async def cancelled(ctx: Context) -> None:
    assert ctx.member is not None
    await ctx.store.conversations.end(ctx.member.id)
    ctx.reply("form/cancelled", to=ctx.personal)


async def _store(
    ctx: Context, form: Form, values: dict[str, str], field: FormField, value: str
) -> None:
    assert ctx.member is not None
    values = {**values, field.name: value}
    if len(values) < len(form.fields):
        conversation = await ctx.store.conversations.current(ctx.member.id)
        assert conversation is not None
        data = {**conversation.data, "values": values, "view": _View().to_json()}
        await ctx.store.conversations.move(conversation, "field", data, ctx.now())
        _ask(ctx, form, values, _View())
        return
    await ctx.store.conversations.end(ctx.member.id)
    await _submit(ctx, form, values)


async def _submit(ctx: Context, form: Form, values: dict[str, str]) -> None:
    """Run the form's own handler with the values, as a submitted form."""
    route = ctx.router.action_route(form.form_id)
    if route is None:
        raise Refusal("errors/stale_button")
    if ctx.member is None or Role(ctx.member.role) not in route.roles:
        raise Refusal("errors/not_allowed_button")
    ctx.event = Event(
        kind=EventKind.FORM,
        sender=ctx.event.sender,
        chat=ctx.event.chat,
        received_at=ctx.event.received_at,
        event_id=ctx.event.event_id,
        action=form.form_id,
        value=form.state,
        form=values,
    )
    await route.handler(ctx)


@dataclass(frozen=True)
class _View:
    """Which part of a long choice is shown: a page, of everything or of what a search found."""

    page: int = 0
    find: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "find": self.find}

    @classmethod
    def from_json(cls, data: Any) -> _View:
        data = data if isinstance(data, dict) else {}
        return cls(int(data.get("page", 0)), str(data.get("find", "")))


def _ask(
    ctx: Context, form: Form, values: dict[str, str], view: _View, *, replace: bool = False
) -> None:
    field = form.fields[len(values)]
    found = _matching(field, view.find, ctx.locale)
    first = view.page * PAGE
    shown = found[first : first + PAGE]
    several = field.kind in MULTIPLE
    buttons: list[Button] = []
    if field.choices and not several:
        buttons += [Button(choice.label, "_form.pick", str(i)) for i, choice in shown]
    if view.page > 0:
        buttons.append(Button(Text("form/button_previous"), "_form.page", str(view.page - 1)))
    if first + PAGE < len(found):
        buttons.append(Button(Text("form/button_next"), "_form.page", str(view.page + 1)))
    if view.find:
        buttons.append(Button(Text("form/button_show_all"), "_form.all"))
    if not field.required:
        buttons.append(Button(Text("form/button_skip"), "_form.skip"))
    buttons.append(Button(Text("form/button_cancel"), "_form.cancel"))
    ctx.reply(
        "form/field",
        to=ctx.personal,
        buttons=tuple(buttons),
        replace_pressed=replace,
        label=field.label,
        position=len(values) + 1,
        count=len(form.fields),
        optional=not field.required,
        hint=field.hint,
        numbered=[{"number": i + 1, "label": c.label} for i, c in shown] if several else [],
        shown_from=first + 1 if len(found) > PAGE else 0,
        shown_to=first + len(shown),
        found=len(found),
        total=len(field.choices),
        find=view.find,
        paged=len(field.choices) > PAGE,
    )


def _matching(field: FormField, find: str, locale: str) -> list[tuple[int, Choice]]:
    return matching_choices(field.choices, find, locale)


def matching_choices(
    choices: Sequence[Choice], typed: str, locale: str
) -> list[tuple[int, Choice]]:
    """The choices (with their index) whose label, in ``locale``, contains what was typed, in
    any case and whatever the spacing: one rule for a search typed into a paged choice here and
    for a Slack external select."""
    numbered = list(enumerate(choices))
    wanted = " ".join(typed.split()).casefold()
    if not wanted:
        return numbered
    return [
        (i, c)
        for i, c in numbered
        if wanted in " ".join(LABELS.render(c.label, locale).split()).casefold()
    ]


def _page_count(found: int) -> int:
    return max(1, -(-found // PAGE))


async def _move(ctx: Context, view: _View) -> None:
    assert ctx.member is not None
    conversation = await ctx.store.conversations.current(ctx.member.id)
    assert conversation is not None
    data = {**conversation.data, "view": view.to_json()}
    await ctx.store.conversations.move(conversation, "field", data, ctx.now())


async def _state(ctx: Context) -> tuple[Form, dict[str, str], _View]:
    if ctx.member is None:
        raise Refusal("errors/stale_button")
    conversation = await ctx.store.conversations.current(ctx.member.id)
    if conversation is None or conversation.flow != FLOW:
        raise Refusal("errors/stale_button")
    return _parsed(conversation.data)


def _parsed(data: dict[str, Any]) -> tuple[Form, dict[str, str], _View]:
    form = Reply.from_json({"form": data["form"]}).form
    assert form is not None
    return form, dict(data.get("values", {})), _View.from_json(data.get("view"))


async def _parked_values(ctx: Context, form: Form) -> dict[str, str]:
    """The answers of the same form put aside earlier, as far as they still fit it (its choices
    may have changed meanwhile); nothing when no such form is kept."""
    assert ctx.member is not None
    conversation = await ctx.store.conversations.current(ctx.member.id)
    if conversation is None or conversation.flow != PARKED:
        return {}
    kept, values, _ = _parsed(conversation.data)
    if (kept.form_id, kept.state) != (form.form_id, form.state):
        return {}
    fitting = still_fitting(form, values)
    return fitting if len(fitting) < len(form.fields) else {}


def still_fitting(form: Form, values: dict[str, str]) -> dict[str, str]:
    """The leading answers that still fit ``form``: a choice made must still be offered."""
    fitting: dict[str, str] = {}
    for field in form.fields:
        if field.name not in values:
            break
        value = values[field.name]
        offered = {choice.value for choice in field.choices}
        if field.choices and value and not set(value.split(",")) <= offered:
            break
        fitting[field.name] = value
    return fitting


def _numbers(text: str, field: FormField) -> str | None:
    """Numbers typed for a choice: one, or several ("1,3") where several may be chosen."""
    parts = [p for p in text.replace("，", ",").replace(",", " ").split() if p]
    count = len(field.choices)
    if not parts or not all(p.isdigit() and 1 <= int(p) <= count for p in parts):
        return None
    if len(parts) > 1 and field.kind not in MULTIPLE:
        return None
    picked = list(dict.fromkeys(int(p) for p in parts))
    return ",".join(field.choices[n - 1].value for n in picked)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True

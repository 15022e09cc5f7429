"""Forms one field at a time, for platforms without native forms (Telegram).

The dispatcher turns a form reply into this flow: the form and the answers so far live in the
database (a Conversation), so a half-filled form survives a restart or a switch of device. When
the last field is answered, the form's own handler runs with the values, exactly as if a Slack
modal had been submitted.
"""

from __future__ import annotations

from handlers.framework.context import Context
from handlers.framework.router import Router
from kernel import EVERYONE, Button, Event, EventKind, Form, FormField, Refusal, Reply, Role, Text

FLOW = "_form"


def register(router: Router) -> None:
    router.flow(FLOW, typed, roles=EVERYONE)
    router.action("_form.pick", picked, roles=EVERYONE)
    router.action("_form.skip", skipped, roles=EVERYONE)
    router.action("_form.cancel", cancelled, roles=EVERYONE)


async def start_form(ctx: Context, form: Form) -> None:
    """Begin walking ``form``; the first field is asked at once."""
    assert ctx.member is not None
    data = {"form": Reply(form=form).to_json()["form"], "values": {}}
    await ctx.store.conversations.start(ctx.member.id, FLOW, "field", data, ctx.now())
    ctx.reply("form/start", to=ctx.personal, title=form.title)
    _ask(ctx, form, {})


async def typed(ctx: Context) -> None:
    form, values = await _state(ctx)
    text = ctx.event.text.strip()
    if ctx.means(text, "form/cancel"):
        await cancelled(ctx)
        return
    field = form.fields[len(values)]
    if field.choices:
        value = _numbers(text, field)
        if value is None:
            raise Refusal("form/pick_hint", count=len(field.choices))
        await _store(ctx, form, values, field, value)
        return
    if not text or ctx.means(text, "form/skip"):
        if field.required:
            raise Refusal("form/required")
        text = ""
    if field.max_length and len(text) > field.max_length:
        raise Refusal("errors/too_long", limit=field.max_length)
    if field.kind == "number" and text and not _is_number(text):
        raise Refusal("form/number_hint")
    await _store(ctx, form, values, field, text)


async def picked(ctx: Context) -> None:
    form, values = await _state(ctx)
    field = form.fields[len(values)]
    index = int(ctx.event.value) if ctx.event.value.isdigit() else -1
    if not field.choices or not 0 <= index < len(field.choices):
        raise Refusal("errors/stale_button")
    await _store(ctx, form, values, field, field.choices[index].value)


async def skipped(ctx: Context) -> None:
    form, values = await _state(ctx)
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
        await ctx.store.conversations.move(
            conversation, "field", {**conversation.data, "values": values}, ctx.now()
        )
        _ask(ctx, form, values)
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


def _ask(ctx: Context, form: Form, values: dict[str, str]) -> None:
    field = form.fields[len(values)]
    buttons: list[Button] = []
    if field.choices and field.kind not in ("members", "multi_choice"):
        buttons += [
            Button(choice.label, "_form.pick", str(i)) for i, choice in enumerate(field.choices)
        ]
    if not field.required:
        buttons.append(Button(Text("form/button_skip"), "_form.skip"))
    buttons.append(Button(Text("form/button_cancel"), "_form.cancel"))
    ctx.reply(
        "form/field",
        to=ctx.personal,
        buttons=tuple(buttons),
        label=field.label,
        position=len(values) + 1,
        count=len(form.fields),
        optional=not field.required,
        hint=field.hint,
        numbered=[c.label for c in field.choices]
        if field.kind in ("members", "multi_choice")
        else [],
    )


async def _state(ctx: Context) -> tuple[Form, dict[str, str]]:
    if ctx.member is None:
        raise Refusal("errors/stale_button")
    conversation = await ctx.store.conversations.current(ctx.member.id)
    if conversation is None or conversation.flow != FLOW:
        raise Refusal("errors/stale_button")
    form = Reply.from_json({"form": conversation.data["form"]}).form
    assert form is not None
    return form, dict(conversation.data.get("values", {}))


def _numbers(text: str, field: FormField) -> str | None:
    """Numbers typed for a choice: one, or several ("1,3") where several may be chosen."""
    parts = [p for p in text.replace("，", ",").replace(",", " ").split() if p]
    count = len(field.choices)
    if not parts or not all(p.isdigit() and 1 <= int(p) <= count for p in parts):
        return None
    if len(parts) > 1 and field.kind not in ("members", "multi_choice"):
        return None
    picked = list(dict.fromkeys(int(p) for p in parts))
    return ",".join(field.choices[n - 1].value for n in picked)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True

"""/join: a person the campaign does not know yet picks their unit and becomes a staff member.

The organisation comes from the group chat the person is in (a chat bound to a unit), or is the
only organisation there is. Supervisors and admins are promoted by an admin (/role)."""

from __future__ import annotations

import datetime as dt

from handlers.framework.context import Context
from handlers.framework.router import Menu, Router
from handlers.shared.units import unit_name, unit_named
from kernel import ADMINS, EVERYONE, Button, Refusal, Role, Text
from storage.models import Unit

MAX_CHOICES = 25
INVITATION_LIFETIME = dt.timedelta(days=7)


def register(router: Router) -> None:
    members = router.feature("members")
    members.command(
        "join", offer_units, roles=EVERYONE, menus={Menu.PRIVATE}, open_to_strangers=True
    )
    members.action("join.unit", join_unit, roles=EVERYONE, open_to_strangers=True)
    members.command(
        "start", start, roles=EVERYONE, listed=False, menus={Menu.PRIVATE}, open_to_strangers=True
    )
    members.command("invite", invite, roles=ADMINS)
    members.command("bind", bind_chat, roles=ADMINS, menus={Menu.GROUP})
    members.command("role", set_role, roles=ADMINS)


async def offer_units(ctx: Context) -> None:
    if ctx.member is not None:
        ctx.private("members/already", unit=unit_name(ctx.unit, ctx.locale) if ctx.unit else "")
        return
    units = await _joinable_units(ctx)
    chat_unit = await ctx.store.units.for_chat(
        ctx.event.chat.platform, ctx.event.chat.workspace, ctx.event.chat.chat_id
    )
    if chat_unit is not None:
        units = [chat_unit] + [u for u in units if u.id != chat_unit.id]
    buttons = tuple(
        Button(Text("shared/unit_name", {"zh": u.name_zh, "en": u.name_en}), "join.unit", str(u.id))
        for u in units[:MAX_CHOICES]
    )
    ctx.reply("members/pick", to=ctx.personal, buttons=buttons)


async def join_unit(ctx: Context) -> None:
    if ctx.member is not None:
        ctx.private("members/already", unit=unit_name(ctx.unit, ctx.locale) if ctx.unit else "")
        return
    units = {u.id: u for u in await _joinable_units(ctx)}
    unit = units.get(int(ctx.event.value)) if ctx.event.value.isdigit() else None
    if unit is None:
        raise Refusal("errors/stale_button")
    await _enrol(ctx, unit, Role.STAFF, replace_pressed=True)


async def _enrol(ctx: Context, unit: Unit, role: Role, *, replace_pressed: bool = False) -> None:
    """Make the sender a member of ``unit``, reachable privately on their platform."""
    sender = ctx.event.sender
    member = await ctx.store.members.add(
        organisation_id=unit.organisation_id,
        unit_id=unit.id,
        display_name=sender.display_name or sender.user_id,
        role=role,
        now=ctx.now(),
    )
    await ctx.store.members.add_identity(
        member,
        platform=sender.platform,
        workspace=sender.workspace,
        external_id=sender.user_id,
        private_chat_id=sender.user_id,
        platform_locale=sender.locale,
        now=ctx.now(),
    )
    ctx.member, ctx.unit = member, unit
    ctx.reply(
        "members/joined",
        to=ctx.personal,
        replace_pressed=replace_pressed,
        unit=unit_name(unit, ctx.locale),
    )


async def start(ctx: Context) -> None:
    """``/start`` (Telegram's first message) and ``/start <code>`` deep links that join a unit."""
    code = ctx.event.args.strip()
    if ctx.member is not None:
        ctx.private("members/already", unit=unit_name(ctx.unit, ctx.locale) if ctx.unit else "")
        return
    if not code:
        await offer_units(ctx)
        return
    invitation = await ctx.store.invites.valid(code, ctx.now())
    if invitation is None:
        raise Refusal("members/bad_code")
    unit = await ctx.store.units.get(invitation.unit_id)
    assert unit is not None
    await _enrol(ctx, unit, Role(invitation.role))


async def invite(ctx: Context) -> None:
    """``/invite <unit> [role]`` (admins): a code valid for a week, for /start <code>."""
    assert ctx.member is not None
    words = ctx.event.args.split()
    role = Role.STAFF
    if words and words[-1].casefold() in {r.value for r in Role}:
        role = Role(words.pop().casefold())
    units = await ctx.store.units.of_organisation(ctx.member.organisation_id)
    unit = unit_named(units, " ".join(words))
    if unit is None:
        raise Refusal(
            "members/unknown_unit", given=" ".join(words), units=", ".join(u.key for u in units)
        )
    code = await ctx.store.invites.create(
        unit_id=unit.id,
        role=role,
        created_by_member_id=ctx.member.id,
        expires_at=ctx.now() + INVITATION_LIFETIME,
        now=ctx.now(),
    )
    ctx.private(
        "members/invitation",
        code=code.code,
        unit=unit_name(unit, ctx.locale),
        role=Text(f"roles/{role}"),
        until=code.expires_at,
        zone=unit.timezone,
    )


async def bind_chat(ctx: Context) -> None:
    """``/bind <unit>`` in a group chat: its drills, notices and summaries come here."""
    assert ctx.member is not None
    if not ctx.event.chat.is_group:
        raise Refusal("members/bind_in_group")
    units = await ctx.store.units.of_organisation(ctx.member.organisation_id)
    unit = unit_named(units, ctx.event.args)
    if unit is None:
        raise Refusal(
            "members/unknown_unit",
            given=ctx.event.args.strip(),
            units=", ".join(u.key for u in units),
        )
    chat = ctx.event.chat
    if not await ctx.store.units.bind_chat(
        unit.id, chat.platform, chat.workspace, chat.chat_id, ctx.now()
    ):
        current = await ctx.store.units.for_chat(chat.platform, chat.workspace, chat.chat_id)
        raise Refusal(
            "members/already_bound", unit=unit_name(current, ctx.locale) if current else ""
        )
    ctx.reply("members/bound", unit=unit_name(unit, ctx.locale))


async def set_role(ctx: Context) -> None:
    """``/role <member name> <staff|supervisor|admin|volunteer>`` (admins)."""
    assert ctx.member is not None
    name, _, role_text = ctx.event.args.strip().rpartition(" ")
    try:
        role = Role(role_text.strip().casefold())
    except ValueError:
        raise Refusal("members/role_usage") from None
    people = await ctx.store.members.named(ctx.member.organisation_id, name.strip().lstrip("@"))
    if len(people) != 1:
        raise Refusal("members/which_member", given=name.strip(), count=len(people))
    person = people[0]
    ctx.store.members.set_role(person, role)
    ctx.reply(
        "members/role_set", to=ctx.personal, name=person.display_name, role=Text(f"roles/{role}")
    )
    ctx.notify(person.id, "members/role_notice", role=Text(f"roles/{role}"))


async def _joinable_units(ctx: Context) -> list[Unit]:
    """Units of the organisation this chat belongs to, or of the only organisation."""
    chat = ctx.event.chat
    bound = await ctx.store.units.for_chat(chat.platform, chat.workspace, chat.chat_id)
    organisations = await ctx.store.units.organisations()
    if bound is not None:
        organisation_id = bound.organisation_id
    elif len(organisations) == 1:
        organisation_id = organisations[0].id
    else:
        raise Refusal("members/ask_in_group")
    units = await ctx.store.units.of_organisation(organisation_id)
    parents = {u.parent_id for u in units}
    return [u for u in units if u.id not in parents]  # people belong to the units at the leaves

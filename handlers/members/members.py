"""Members: how a person the campaign does not know yet gets in, and who they are once in.

Nobody enrols themselves. Each organisation lets strangers in one of two ways (its plan says
which; invitation-only unless it says otherwise): with an invitation, a code or link from
``/invite`` that ``/start <code>`` redeems, or by asking to join a unit (``/join``) and being
approved by a supervisor of that unit. The organisation comes from the group chat the person is
in (a chat bound to a unit), or is the only organisation there is. Admins bind group chats to
units (/bind) and set roles (/role)."""

from __future__ import annotations

import datetime as dt

from handlers.framework.context import Context
from handlers.framework.router import Menu, Router
from handlers.shared.joining import organisation_of, way_in
from handlers.shared.locale import pick_locale
from handlers.shared.outbox import queue_to_person
from handlers.shared.units import (
    unit_keys_like,
    unit_label,
    unit_name,
    unit_named,
    units_like,
)
from kernel import (
    ADMINS,
    EVERYONE,
    MAX_BUTTONS,
    MAX_NAME,
    SUPERVISORS,
    Button,
    Refusal,
    Reply,
    Role,
    Text,
)
from storage.models import Member, Unit

MAX_CHOICES = MAX_BUTTONS  # units offered at once; typing part of a name finds the rest
INVITATION_LIFETIME = dt.timedelta(days=7)


def register(router: Router) -> None:
    members = router.feature("members")
    members.command(
        "join", offer_units, roles=EVERYONE, menus={Menu.PRIVATE}, open_to_strangers=True
    )
    members.action("join.unit", ask_to_join, roles=EVERYONE, open_to_strangers=True)
    members.action("join.approve", approve_request, roles=SUPERVISORS)
    members.action("join.decline", decline_request, roles=SUPERVISORS)
    members.command(
        "start", start, roles=EVERYONE, listed=False, menus={Menu.PRIVATE}, open_to_strangers=True
    )
    members.command("invite", invite, roles=SUPERVISORS)
    members.command("bind", bind_chat, roles=ADMINS, menus={Menu.GROUP})
    members.command("role", set_role, roles=ADMINS)


async def offer_units(ctx: Context) -> None:
    """``/join``: the way in for a stranger, as their organisation lets them in."""
    if ctx.member is not None:
        ctx.private("members/already", unit=unit_name(ctx.unit, ctx.locale) if ctx.unit else "")
        return
    organisation = await organisation_of(ctx.store, ctx.event.chat)
    if organisation is None or organisation.joining != "approval":
        text = await way_in(ctx.store, ctx.event.chat)
        ctx.private(text.template)
        return
    units = await _joinable_units(ctx, organisation.id)
    chat_unit = await ctx.store.units.for_chat(
        ctx.event.chat.platform, ctx.event.chat.workspace, ctx.event.chat.chat_id
    )
    if chat_unit is not None:
        units = [chat_unit] + [u for u in units if u.id != chat_unit.id]
    find = ctx.event.args.strip()
    if find:
        units = units_like(units, find)
        if not units:
            raise Refusal("members/no_unit_found", text=find)
    buttons = tuple(Button(unit_label(u), "join.unit", str(u.id)) for u in units[:MAX_CHOICES])
    more = max(0, len(units) - MAX_CHOICES)
    ctx.reply("members/pick", to=ctx.personal, buttons=buttons, more=more)


async def ask_to_join(ctx: Context) -> None:
    """A stranger picked a unit: their request goes to its nearest supervisors."""
    if ctx.member is not None:
        ctx.private("members/already", unit=unit_name(ctx.unit, ctx.locale) if ctx.unit else "")
        return
    organisation = await organisation_of(ctx.store, ctx.event.chat)
    if organisation is None or organisation.joining != "approval":
        raise Refusal((await way_in(ctx.store, ctx.event.chat)).template)
    units = {u.id: u for u in await _joinable_units(ctx, organisation.id)}
    unit = units.get(int(ctx.event.value)) if ctx.event.value.isdigit() else None
    if unit is None:
        raise Refusal("errors/stale_button")
    sender = ctx.event.sender
    request, new = await ctx.store.members.request_to_join(
        organisation_id=organisation.id,
        unit_id=unit.id,
        platform=sender.platform,
        workspace=sender.workspace,
        external_id=sender.user_id,
        display_name=(sender.display_name or sender.user_id)[:MAX_NAME],
        platform_locale=sender.locale,
        now=ctx.now(),
    )
    asked = await ctx.store.units.get(request.unit_id)
    ctx.reply(
        "members/request_sent",
        to=ctx.personal,
        replace_pressed=True,
        unit=unit_name(asked, ctx.locale),
    )
    if not new:
        return
    buttons = (
        Button(Text("members/button_approve"), "join.approve", str(request.id), "primary"),
        Button(Text("members/button_decline"), "join.decline", str(request.id), "danger"),
    )
    for supervisor in await _approvers(ctx, unit):
        ctx.replies.append(
            Reply(
                text=Text(
                    "members/request_notice",
                    {
                        "name": request.display_name,
                        "unit_zh": unit.name_zh,
                        "unit_en": unit.name_en,
                    },
                ),
                buttons=buttons,
                member_id=supervisor.id,
            )
        )


async def approve_request(ctx: Context) -> None:
    member, _ = ctx.seated()
    request = await ctx.records.join_request(ctx.event.value)
    if not await ctx.store.members.decide_request(request.id, "approved", member.id, ctx.now()):
        raise Refusal("members/request_decided")
    unit = await ctx.store.units.get(request.unit_id)
    assert unit is not None
    identity = (request.platform, request.workspace, request.external_id)
    if await ctx.store.members.by_identity(*identity) is not None:
        ctx.private("members/request_decided")  # they got in another way meanwhile
        return
    newcomer = await ctx.store.members.add(
        organisation_id=unit.organisation_id,
        unit_id=unit.id,
        display_name=request.display_name,
        role=Role.STAFF,
        now=ctx.now(),
        locale=await ctx.store.visitors.locale(*identity),
    )
    await ctx.store.members.add_identity(
        newcomer,
        platform=request.platform,
        workspace=request.workspace,
        external_id=request.external_id,
        private_chat_id=request.external_id,
        platform_locale=request.platform_locale,
        now=ctx.now(),
    )
    ctx.reply(
        "members/request_approved",
        to=ctx.personal,
        replace_pressed=True,
        name=request.display_name,
    )
    ctx.notify(newcomer.id, "members/joined", unit=unit_label(unit))


async def decline_request(ctx: Context) -> None:
    member, _ = ctx.seated()
    request = await ctx.records.join_request(ctx.event.value)
    if not await ctx.store.members.decide_request(request.id, "declined", member.id, ctx.now()):
        raise Refusal("members/request_decided")
    unit = await ctx.store.units.get(request.unit_id)
    assert unit is not None
    ctx.reply(
        "members/request_declined",
        to=ctx.personal,
        replace_pressed=True,
        name=request.display_name,
    )
    await queue_to_person(
        ctx.store,
        platform=request.platform,
        workspace=request.workspace,
        chat_id=request.external_id,
        reply=Reply(text=Text("members/declined_notice", {"unit": unit_label(unit)})),
        locale=pick_locale(request.platform_locale, fallback=unit.locale),
        key=f"join-declined:{request.id}",
        now=ctx.now(),
    )


async def _approvers(ctx: Context, unit: Unit) -> list[Member]:
    """The nearest supervisors of the unit or above it, else the organisation's admins."""
    for level in await ctx.store.units.lineage(unit.id):
        found = [
            m for m in await ctx.store.members.of_unit(level.id) if Role(m.role) in SUPERVISORS
        ]
        if found:
            return found
    return await ctx.store.members.admins(unit.organisation_id)


async def _enrol(ctx: Context, unit: Unit, role: Role, *, replace_pressed: bool = False) -> None:
    """Make the sender a member of ``unit``, reachable privately on their platform."""
    sender = ctx.event.sender
    member = await ctx.store.members.add(
        organisation_id=unit.organisation_id,
        unit_id=unit.id,
        display_name=sender.display_name or sender.user_id,
        role=role,
        now=ctx.now(),
        # the language they chose before they were in, if they chose one
        locale=await ctx.store.visitors.locale(sender.platform, sender.workspace, sender.user_id),
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
    """``/invite <unit> [role]``: a code valid for a week, for /start <code>. Supervisors invite
    staff and volunteers to the units they cover; admins anyone anywhere in the organisation."""
    member, _ = ctx.seated()
    words = ctx.event.args.split()
    named = ctx.router.vocabulary.role(words[-1]) if words else None
    role = named or Role.STAFF
    if named is not None:
        words.pop()
    if member.role != Role.ADMIN and role not in (Role.STAFF, Role.VOLUNTEER):
        raise Refusal("members/invite_role")
    covered = set(await ctx.covered_unit_ids())
    units = [
        u for u in await ctx.store.units.of_organisation(member.organisation_id) if u.id in covered
    ]
    unit = unit_named(units, " ".join(words))
    if unit is None:
        given = " ".join(words)
        raise Refusal("members/unknown_unit", given=given, units=unit_keys_like(units, given))
    code = await ctx.store.invites.create(
        unit_id=unit.id,
        role=role,
        created_by_member_id=member.id,
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
    """``/bind <unit>`` in a group chat: its drills, notices and summaries come here, in the
    binder's language until the unit's supervisors choose another (/lang in the chat)."""
    assert ctx.member is not None
    if not ctx.event.chat.is_group:
        raise Refusal("members/bind_in_group")
    units = await ctx.store.units.of_organisation(ctx.member.organisation_id)
    unit = unit_named(units, ctx.event.args)
    if unit is None:
        given = ctx.event.args.strip()
        raise Refusal("members/unknown_unit", given=given, units=unit_keys_like(units, given))
    chat = ctx.event.chat
    if not await ctx.store.units.bind_chat(
        unit.id, chat.platform, chat.workspace, chat.chat_id, ctx.now(), locale=ctx.locale
    ):
        current = await ctx.store.units.for_chat(chat.platform, chat.workspace, chat.chat_id)
        raise Refusal(
            "members/already_bound", unit=unit_name(current, ctx.locale) if current else ""
        )
    ctx.chat_locale = ctx.locale
    ctx.reply("members/bound", unit=unit_name(unit, ctx.locale))


async def set_role(ctx: Context) -> None:
    """``/role <member name> <role>`` (admins): the role in any language (主管, supervisor)."""
    assert ctx.member is not None
    name, _, role_text = ctx.event.args.strip().rpartition(" ")
    role = ctx.router.vocabulary.role(role_text)
    if role is None or not name.strip():
        raise Refusal("members/role_usage")
    people = await ctx.store.members.named(ctx.member.organisation_id, name.strip().lstrip("@"))
    if len(people) != 1:
        raise Refusal("members/which_member", given=name.strip(), count=len(people))
    person = people[0]
    await ctx.store.members.set_role(person, role)
    ctx.reply(
        "members/role_set", to=ctx.personal, name=person.display_name, role=Text(f"roles/{role}")
    )
    ctx.notify(person.id, "members/role_notice", role=Text(f"roles/{role}"))


async def _joinable_units(ctx: Context, organisation_id: int) -> list[Unit]:
    """Units of the organisation people belong to: the ones at the leaves of its tree."""
    units = await ctx.store.units.of_organisation(organisation_id)
    parents = {u.parent_id for u in units}
    return [u for u in units if u.id not in parents]

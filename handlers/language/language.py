"""/lang: the language Uplift speaks where it is typed. In a private chat, a person's own (中文 or
English), before they join too; in a group chat bound to a unit, the chat's, which only the
unit's supervisors (or an admin) may change: its drills, notices and summaries follow it."""

from __future__ import annotations

from handlers.framework.context import Context
from handlers.framework.router import Menu, Router
from handlers.shared.locale import normalise_locale
from kernel import EVERYONE, SUPERVISORS, Audience, Button, Refusal, Role, Text
from messages import LOCALES
from storage.models import ChatBinding


def register(router: Router) -> None:
    language = router.feature("language")
    language.command(
        "lang",
        choose_language,
        roles=EVERYONE,
        menus={Menu.PRIVATE, Menu.GROUP},
        open_to_strangers=True,
    )
    language.action("lang.set", set_language, roles=EVERYONE, open_to_strangers=True)


async def choose_language(ctx: Context) -> None:
    chat = await _bound_group(ctx)
    given = ctx.event.args.strip()
    if not given:
        buttons = tuple(Button(Text(f"language/name_{code}"), "lang.set", code) for code in LOCALES)
        if chat is None:
            ctx.reply("language/choose", buttons=buttons, to=ctx.personal)
        else:
            # In the group, where the press comes back from the group and so changes the group.
            ctx.reply("language/choose_chat", buttons=buttons)
    elif (wanted := normalise_locale(given)) is None:
        ctx.private("language/unknown", given=given)
    elif chat is None:
        await _apply(ctx, wanted)
    else:
        _apply_to_chat(ctx, chat, wanted)


async def set_language(ctx: Context) -> None:
    wanted = normalise_locale(ctx.event.value)
    chat = await _bound_group(ctx)
    if wanted is None:
        ctx.private("errors/stale_button")
    elif chat is None:
        await _apply(ctx, wanted, replace_pressed=True)
    else:
        _apply_to_chat(ctx, chat, wanted, replace_pressed=True)


async def _bound_group(ctx: Context) -> ChatBinding | None:
    """The group chat's binding when /lang is used in a bound group, for a sender who may
    change its language; anyone else there is refused (their own language is changed in
    private). None in a private chat or a group bound to no unit."""
    chat = ctx.event.chat
    if not chat.is_group:
        return None
    binding = await ctx.store.units.binding(chat.platform, chat.workspace, chat.chat_id)
    if binding is None:
        return None
    member = ctx.member
    if (
        member is None
        or Role(member.role) not in SUPERVISORS
        or binding.unit_id not in await ctx.covered_unit_ids()
    ):
        raise Refusal("language/chat_refused")
    return binding


async def _apply(ctx: Context, locale: str, *, replace_pressed: bool = False) -> None:
    """A member's choice is theirs; a visitor's is kept too, until they join and after."""
    if ctx.member is not None:
        ctx.store.members.set_locale(ctx.member, locale)
    else:
        sender = ctx.event.sender
        await ctx.store.visitors.choose_locale(
            sender.platform, sender.workspace, sender.user_id, locale, ctx.now()
        )
    ctx.locale = locale
    ctx.reply("language/set", to=ctx.personal, replace_pressed=replace_pressed)


def _apply_to_chat(
    ctx: Context, chat: ChatBinding, locale: str, *, replace_pressed: bool = False
) -> None:
    """The group's language: said to the whole group, in its new language; the sender's own
    language stays theirs."""
    assert ctx.member is not None
    ctx.store.units.set_chat_locale(chat, locale)
    ctx.chat_locale = locale
    ctx.reply(
        "language/chat_set",
        to=Audience.CHAT,
        replace_pressed=replace_pressed,
        by=ctx.member.display_name,
    )

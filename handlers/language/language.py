"""/lang: a person chooses the language Uplift speaks to them (中文 or English), before they
join too."""

from __future__ import annotations

from handlers.framework.context import Context
from handlers.framework.router import Menu, Router
from handlers.shared.locale import normalise_locale
from kernel import EVERYONE, Button, Text
from messages import LOCALES


def register(router: Router) -> None:
    language = router.feature("language")
    language.command(
        "lang", choose_language, roles=EVERYONE, menus={Menu.PRIVATE}, open_to_strangers=True
    )
    language.action("lang.set", set_language, roles=EVERYONE, open_to_strangers=True)


async def choose_language(ctx: Context) -> None:
    given = ctx.event.args.strip()
    if not given:
        buttons = tuple(Button(Text(f"language/name_{code}"), "lang.set", code) for code in LOCALES)
        ctx.reply("language/choose", buttons=buttons, to=ctx.personal)
    elif (wanted := normalise_locale(given)) is None:
        ctx.private("language/unknown", given=given)
    else:
        await _apply(ctx, wanted)


async def set_language(ctx: Context) -> None:
    wanted = normalise_locale(ctx.event.value)
    if wanted is None:
        ctx.private("errors/stale_button")
    else:
        await _apply(ctx, wanted, replace_pressed=True)


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

"""/lang: a person chooses the language Uplift speaks to them (中文 or English)."""

from __future__ import annotations

from handlers.framework.context import Context
from handlers.framework.router import Menu, Router
from handlers.shared.locale import normalise_locale
from kernel import EVERYONE, Button, Text
from messages import LOCALES


def register(router: Router) -> None:
    language = router.feature("language")
    language.command("lang", choose_language, roles=EVERYONE, menus={Menu.PRIVATE})
    language.action("lang.set", set_language, roles=EVERYONE)


async def choose_language(ctx: Context) -> None:
    given = ctx.event.args.strip()
    if not given:
        buttons = tuple(Button(Text(f"language/name_{code}"), "lang.set", code) for code in LOCALES)
        ctx.reply("language/choose", buttons=buttons, to=ctx.personal)
    elif (wanted := normalise_locale(given)) is None:
        ctx.private("language/unknown", given=given)
    else:
        _apply(ctx, wanted)


async def set_language(ctx: Context) -> None:
    wanted = normalise_locale(ctx.event.value)
    if wanted is None:
        ctx.private("errors/stale_button")
    else:
        _apply(ctx, wanted, replace_pressed=True)


def _apply(ctx: Context, locale: str, *, replace_pressed: bool = False) -> None:
    assert ctx.member is not None
    ctx.store.members.set_locale(ctx.member, locale)
    ctx.locale = locale
    ctx.reply("language/set", to=ctx.personal, replace_pressed=replace_pressed)

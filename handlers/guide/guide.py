"""/help: the commands the current role may use, in the current language; for someone the
campaign does not know yet, the way in first."""

from __future__ import annotations

from handlers.framework.context import Context
from handlers.framework.router import ANYWHERE, Router
from handlers.shared.joining import way_in
from kernel import EVERYONE, Text


def register(router: Router) -> None:
    guide = router.feature("guide")
    guide.command("help", show_help, roles=EVERYONE, menus=ANYWHERE, open_to_strangers=True)


async def show_help(ctx: Context) -> None:
    routes = ctx.router.commands_for(ctx.role)
    lines = [Text(route.help_template or "", {"command": route.name}) for route in routes]
    ctx.private(
        "guide/help",
        lines=lines,
        role=Text(f"roles/{ctx.role}") if ctx.role else None,
        name=ctx.member.display_name if ctx.member else None,
        is_member=ctx.member is not None,
        way_in=None if ctx.member else await way_in(ctx.store, ctx.event.chat),
    )

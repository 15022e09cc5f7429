"""/help: the commands the current role may use, in the current language."""

from __future__ import annotations

from handlers.framework.context import Context
from handlers.framework.router import Router
from kernel import EVERYONE, Text


def register(router: Router) -> None:
    router.command(
        "help",
        show_help,
        roles=EVERYONE,
        aliases=("帮助",),
        help_template="help/line_help",
        open_to_strangers=True,
    )
    router.keyword(("帮助", "help", "菜单", "menu"), "help")


async def show_help(ctx: Context) -> None:
    routes = ctx.router.commands_for(ctx.role)
    lines = [Text(route.help_template or "", {"command": route.name}) for route in routes]
    ctx.private(
        "help/help",
        lines=lines,
        role=Text(f"roles/{ctx.role}") if ctx.role else None,
        name=ctx.member.display_name if ctx.member else None,
        is_member=ctx.member is not None,
    )

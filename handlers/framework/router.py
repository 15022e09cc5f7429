"""The router: from a command, a button press, a form or free text to one handler, with roles.

Each feature module has ``register(router)`` that declares its commands, actions, keyword
triggers and flows on the router it is given: no decorators with import-time side effects, no
module globals, no injection by parameter name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kernel import Event, EventKind, Role

if TYPE_CHECKING:
    from handlers.framework.context import Context

Handler = Callable[["Context"], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """One entry point: who may use it and which handler runs."""

    name: str
    handler: Handler
    roles: frozenset[Role]
    help_template: str | None = None  # a line in /help, if the command is listed
    open_to_strangers: bool = False  # usable before the person is a member (help, language)


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, Route] = {}
        self._aliases: dict[str, str] = {}
        self._actions: dict[str, Route] = {}
        self._flows: dict[str, Route] = {}
        self._keywords: list[tuple[str, str]] = []  # (phrase, command)

    # --- declaring ------------------------------------------------------------------------

    def command(
        self,
        name: str,
        handler: Handler,
        *,
        roles: Iterable[Role],
        aliases: Iterable[str] = (),
        help_template: str | None = None,
        open_to_strangers: bool = False,
    ) -> None:
        name = name.casefold()
        folded = [alias.casefold() for alias in aliases]
        # One namespace for names and aliases: an alias must never shadow another command.
        words = [name, *folded]
        for word in words:
            if word in self._commands or word in self._aliases or words.count(word) > 1:
                raise ValueError(f"{word!r} is declared twice")
        self._add(
            self._commands,
            name,
            Route(name, handler, frozenset(roles), help_template, open_to_strangers),
        )
        for alias in folded:
            self._add(self._aliases, alias, name)

    def action(
        self,
        action_id: str,
        handler: Handler,
        *,
        roles: Iterable[Role],
        open_to_strangers: bool = False,
    ) -> None:
        """A button press or a form submission whose id is ``action_id``."""
        route = Route(action_id, handler, frozenset(roles), open_to_strangers=open_to_strangers)
        self._add(self._actions, action_id, route)

    def flow(self, flow: str, handler: Handler, *, roles: Iterable[Role]) -> None:
        """Free text typed while the person is inside ``flow`` (kept in the database)."""
        self._add(self._flows, flow, Route(flow, handler, frozenset(roles)))

    def keyword(self, phrases: Iterable[str], command: str) -> None:
        """Free text such as 我的积分 or "my score" that means a command."""
        for phrase in phrases:
            folded = phrase.strip().casefold()
            if any(known == folded for known, _ in self._keywords):
                raise ValueError(f"{phrase!r} is declared twice")
            self._keywords.append((folded, command))

    @staticmethod
    def _add(table: dict[str, object], key: str, value: object) -> None:
        if key in table:
            raise ValueError(f"{key!r} is declared twice")
        table[key] = value

    # --- resolving -------------------------------------------------------------------------

    def command_route(self, name: str) -> Route | None:
        name = name.casefold()
        return self._commands.get(self._aliases.get(name, name))

    def action_route(self, action_id: str) -> Route | None:
        return self._actions.get(action_id)

    def flow_route(self, flow: str) -> Route | None:
        return self._flows.get(flow)

    def keyword_command(self, text: str) -> str | None:
        folded = text.strip().casefold()
        for phrase, command in self._keywords:
            if folded == phrase:
                return command
        return None

    def route_for(self, event: Event, active_flow: str | None) -> Route | None:
        """Where an event goes. Free text goes to the open flow first, then to keywords."""
        if event.kind is EventKind.COMMAND:
            return self.command_route(event.command)
        if event.kind in (EventKind.ACTION, EventKind.FORM):
            return self.action_route(event.action)
        if active_flow is not None and (route := self.flow_route(active_flow)) is not None:
            return route
        command = self.keyword_command(event.text)
        return self.command_route(command) if command else None

    def commands_for(self, role: Role | None) -> list[Route]:
        """The listed commands a role may use, in declaration order, for /help."""
        return [
            route
            for route in self._commands.values()
            if route.help_template and (role in route.roles if role else route.open_to_strangers)
        ]

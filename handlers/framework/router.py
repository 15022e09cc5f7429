"""The router: from a command, a button press, a form or free text to one handler, with roles.

Each feature package has ``register(router)`` that declares, in one place, everything about its
commands on ``router.feature(name)``: the command, its roles, whether /help lists it and which menus
offer it (Telegram's command menus and the Slack app manifest are generated from this), its
actions and flows. The words people type (aliases, keywords) come from the feature's
``messages/<locale>/<feature>/words.yaml``; the help line and menu text from its templates
``<feature>/help_<command>`` and ``<feature>/menu_<command>``. No decorators with import-time
side effects, no module globals, no injection by parameter name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from kernel import Event, EventKind, Role
from messages.vocabulary import Vocabulary, shipped_vocabulary

if TYPE_CHECKING:
    from handlers.framework.context import Context

Handler = Callable[["Context"], Awaitable[None]]
# Checks one typed form value (field name, value) as soon as it is typed, raising a Refusal that
# says what is wanted: a form asked a field at a time never loses what was entered to a late error.
FieldCheck = Callable[[str, str], None]


class Menu(StrEnum):
    """Where a command is offered besides /help."""

    PRIVATE = "private"  # the command menu of a private chat (Telegram)
    GROUP = "group"  # the command menu of a group chat (Telegram)
    SLASH = "slash"  # a slash command of its own in the Slack app manifest


ANYWHERE = frozenset(Menu)
IN_PRIVATE = frozenset({Menu.PRIVATE, Menu.SLASH})


@dataclass(frozen=True)
class Route:
    """One entry point: who may use it and which handler runs."""

    name: str
    handler: Handler
    roles: frozenset[Role]
    help_template: str | None = None  # a line in /help, if the command is listed
    open_to_strangers: bool = False  # usable before the person is a member (help, language)
    feature: str = ""  # the feature package (and template folder) that declared it
    menus: frozenset[Menu] = frozenset()

    @property
    def menu_template(self) -> str:
        """The command's short description in menus: ``<feature>/menu_<command>``."""
        return f"{self.feature}/menu_{self.name}"

    @property
    def usage_template(self) -> str:
        """What may follow the command, for Slack's usage hint: ``<feature>/usage_<command>``."""
        return f"{self.feature}/usage_{self.name}"


class Router:
    def __init__(self, vocabulary: Vocabulary | None = None) -> None:
        self.vocabulary = vocabulary if vocabulary is not None else shipped_vocabulary()
        self._commands: dict[str, Route] = {}
        self._aliases: dict[str, str] = {}
        self._actions: dict[str, Route] = {}
        self._flows: dict[str, Route] = {}
        self._keywords: list[tuple[str, str]] = []  # (phrase, command)
        self._field_checks: dict[str, FieldCheck] = {}

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
        feature: str = "",
        menus: Iterable[Menu] = (),
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
            Route(
                name,
                handler,
                frozenset(roles),
                help_template,
                open_to_strangers,
                feature,
                frozenset(menus),
            ),
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

    def field_check(self, form_id: str, check: FieldCheck) -> None:
        """How the values of form ``form_id`` are checked one by one, as they are typed."""
        self._add(self._field_checks, form_id, check)

    def keyword(self, phrases: Iterable[str], command: str) -> None:
        """Free text such as 我的积分 or "my score" that means a command."""
        for phrase in phrases:
            folded = _plain(phrase)
            if any(known == folded for known, _ in self._keywords):
                raise ValueError(f"{phrase!r} is declared twice")
            self._keywords.append((folded, command))

    def feature(self, name: str) -> Feature:
        """Declare a feature's commands, actions and flows, with its words and templates."""
        return Feature(self, name)

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

    def field_check_for(self, form_id: str) -> FieldCheck | None:
        return self._field_checks.get(form_id)

    def keyword_command(self, text: str) -> str | None:
        folded = _plain(text)
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

    def commands(self) -> list[Route]:
        """Every command, in declaration order."""
        return list(self._commands.values())

    def actions(self) -> list[Route]:
        """Every button action and form, in declaration order."""
        return list(self._actions.values())

    def in_menu(self, menu: Menu) -> list[Route]:
        """The commands offered in ``menu``, in declaration order."""
        return [route for route in self._commands.values() if menu in route.menus]

    def commands_for(self, role: Role | None) -> list[Route]:
        """The listed commands a role may use, in declaration order, for /help."""
        return [
            route
            for route in self._commands.values()
            if route.help_template and (role in route.roles if role else route.open_to_strangers)
        ]


class Feature:
    """One feature's declarations: its name is its template folder and its words file."""

    def __init__(self, router: Router, name: str) -> None:
        self._router = router
        self.name = name

    def command(
        self,
        name: str,
        handler: Handler,
        *,
        roles: Iterable[Role],
        listed: bool = True,
        menus: Iterable[Menu] = (),
        open_to_strangers: bool = False,
    ) -> None:
        """A command; ``listed`` puts ``<feature>/help_<name>`` in /help, ``menus`` offers it in
        chat menus and as a Slack slash command (``<feature>/menu_<name>`` describes it there)."""
        words = self._router.vocabulary.command(self.name, name)
        self._router.command(
            name,
            handler,
            roles=roles,
            aliases=words.aliases,
            help_template=f"{self.name}/help_{name}" if listed else None,
            open_to_strangers=open_to_strangers,
            feature=self.name,
            menus=menus,
        )
        self._router.keyword(words.keywords, name)

    def action(
        self,
        action_id: str,
        handler: Handler,
        *,
        roles: Iterable[Role],
        open_to_strangers: bool = False,
    ) -> None:
        self._router.action(action_id, handler, roles=roles, open_to_strangers=open_to_strangers)

    def flow(self, flow: str, handler: Handler, *, roles: Iterable[Role]) -> None:
        self._router.flow(flow, handler, roles=roles)

    def field_check(self, form_id: str, check: FieldCheck) -> None:
        self._router.field_check(form_id, check)


_ENDING = "?？!！.。~～"


def _plain(text: str) -> str:
    """A question as typed, for matching keywords: any case, spacing, apostrophe or final
    question mark (``What’s my score?`` is ``what's my score``)."""
    folded = " ".join(text.replace("’", "'").split()).casefold()
    return folded.rstrip(_ENDING).rstrip()

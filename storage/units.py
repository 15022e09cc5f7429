"""Queries about the unit tree and the group chats bound to units."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatBinding, Organisation, Unit
from storage.upsert import insert_once

# Asked by every event in a group chat: built once (building it cost more than running it).
_BINDING = select(ChatBinding).where(
    ChatBinding.platform == bindparam("platform"),
    ChatBinding.workspace == bindparam("workspace"),
    ChatBinding.chat_id == bindparam("chat_id"),
)


class Units:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._kept: dict[tuple[str, int], list[Unit]] | None = None

    def keep_answers(self) -> None:
        """Answer the same question the same way for the rest of this unit of work (a scheduler
        tick, where every job asks which units there are and which have a chat)."""
        self._kept = {}

    async def get(self, unit_id: int) -> Unit | None:
        return await self._session.get(Unit, unit_id)

    async def organisation(self, organisation_id: int) -> Organisation | None:
        return await self._session.get(Organisation, organisation_id)

    async def organisation_by_key(self, key: str) -> Organisation | None:
        return await self._session.scalar(select(Organisation).where(Organisation.key == key))

    async def by_key(self, organisation_id: int, key: str) -> Unit | None:
        return await self._session.scalar(
            select(Unit).where(Unit.organisation_id == organisation_id, Unit.key == key)
        )

    async def named(self, unit_ids: list[int]) -> list[Unit]:
        """A few units by id (those a leaderboard shows), without reading the whole tree."""
        return list(await self._session.scalars(select(Unit).where(Unit.id.in_(unit_ids))))

    async def of_organisation(self, organisation_id: int) -> list[Unit]:
        if self._kept is not None and ("all", organisation_id) in self._kept:
            return list(self._kept["all", organisation_id])
        rows = list(
            await self._session.scalars(
                select(Unit)
                .where(Unit.organisation_id == organisation_id)
                .order_by(Unit.depth, Unit.id)
            )
        )
        if self._kept is not None:
            self._kept["all", organisation_id] = rows
        return list(rows)

    async def for_chat(self, platform: str, workspace: str, chat_id: str) -> Unit | None:
        return await self._session.scalar(
            select(Unit)
            .join(ChatBinding, ChatBinding.unit_id == Unit.id)
            .where(
                ChatBinding.platform == platform,
                ChatBinding.workspace == workspace,
                ChatBinding.chat_id == chat_id,
            )
        )

    async def chats(self, unit_id: int) -> list[ChatBinding]:
        rows = await self._session.scalars(
            select(ChatBinding).where(ChatBinding.unit_id == unit_id).order_by(ChatBinding.id)
        )
        return list(rows)

    async def chats_of(self, unit_ids: Sequence[int]) -> dict[int, list[ChatBinding]]:
        """``chats`` of many units at once (one query): what a push to every unit reads."""
        found: dict[int, list[ChatBinding]] = {unit_id: [] for unit_id in unit_ids}
        if unit_ids:
            rows = await self._session.scalars(
                select(ChatBinding)
                .where(ChatBinding.unit_id.in_(unit_ids))
                .order_by(ChatBinding.id)
            )
            for chat in rows:
                found[chat.unit_id].append(chat)
        return found

    async def binding(self, platform: str, workspace: str, chat_id: str) -> ChatBinding | None:
        """The group chat's binding (its unit and its language), if it is bound."""
        return await self._session.scalar(
            _BINDING, {"platform": platform, "workspace": workspace, "chat_id": chat_id}
        )

    async def bind_chat(
        self,
        unit_id: int,
        platform: str,
        workspace: str,
        chat_id: str,
        now: dt.datetime,
        locale: str | None = None,
    ) -> bool:
        """Bind a group chat to a unit, speaking ``locale`` (the unit's language unless given);
        False if that chat was already bound."""
        if locale is None:
            unit = await self.get(unit_id)
            locale = unit.locale if unit else "zh"
        new_id = await insert_once(
            self._session,
            ChatBinding,
            {
                "unit_id": unit_id,
                "platform": platform,
                "workspace": workspace,
                "chat_id": chat_id,
                "locale": locale,
                "created_at": now,
            },
            ("platform", "workspace", "chat_id"),
        )
        return new_id is not None

    def set_chat_locale(self, binding: ChatBinding, locale: str) -> None:
        """The chat's supervisors chose the language it is spoken to in."""
        binding.locale = locale

    async def subtree_ids(self, unit_id: int) -> list[int]:
        """The unit and every unit below it."""
        unit = await self.get(unit_id)
        if unit is None:
            return []
        units = await self.of_organisation(unit.organisation_id)
        children: dict[int | None, list[int]] = {}
        for candidate in units:
            children.setdefault(candidate.parent_id, []).append(candidate.id)
        found, pending = [], [unit_id]
        while pending:
            current = pending.pop()
            found.append(current)
            pending.extend(children.get(current, []))
        return sorted(found)

    async def lineage(self, unit_id: int) -> list[Unit]:
        """The unit and every unit above it, nearest first."""
        found: list[Unit] = []
        current = await self.get(unit_id)
        while current is not None and len(found) < 64:
            found.append(current)
            current = await self.get(current.parent_id) if current.parent_id else None
        return found

    async def organisations(self) -> list[Organisation]:
        rows = await self._session.scalars(select(Organisation).order_by(Organisation.id))
        return list(rows)

    async def with_chats(self, organisation_id: int) -> list[Unit]:
        """The organisation's units that have at least one group chat bound (one query)."""
        if self._kept is not None and ("chats", organisation_id) in self._kept:
            return list(self._kept["chats", organisation_id])
        bound = select(ChatBinding.unit_id)
        rows = list(
            await self._session.scalars(
                select(Unit)
                .where(Unit.organisation_id == organisation_id, Unit.id.in_(bound))
                .order_by(Unit.depth, Unit.id)
            )
        )
        if self._kept is not None:
            self._kept["chats", organisation_id] = rows
        return list(rows)

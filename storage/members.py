"""Queries about people: members, their platform identities and where to write to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.models import Member, PlatformIdentity


class Members:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, member_id: int) -> Member | None:
        return await self._session.get(Member, member_id)

    async def by_identity(
        self, platform: str, workspace: str, external_id: str
    ) -> tuple[Member, PlatformIdentity] | None:
        row = (
            await self._session.execute(
                select(Member, PlatformIdentity)
                .join(PlatformIdentity, PlatformIdentity.member_id == Member.id)
                .where(
                    PlatformIdentity.platform == platform,
                    PlatformIdentity.workspace == workspace,
                    PlatformIdentity.external_id == external_id,
                )
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def add(
        self,
        *,
        organisation_id: int,
        unit_id: int | None,
        display_name: str,
        role: Role,
        now: dt.datetime,
        is_unit_head: bool = False,
        locale: str | None = None,
    ) -> Member:
        member = Member(
            organisation_id=organisation_id,
            unit_id=unit_id,
            display_name=display_name,
            role=role,
            is_unit_head=is_unit_head,
            locale=locale,
            created_at=now,
        )
        self._session.add(member)
        await self._session.flush()
        return member

    async def add_identity(
        self,
        member: Member,
        *,
        platform: str,
        external_id: str,
        now: dt.datetime,
        workspace: str = "",
        private_chat_id: str | None = None,
        platform_locale: str | None = None,
    ) -> PlatformIdentity:
        identity = PlatformIdentity(
            member_id=member.id,
            platform=platform,
            workspace=workspace,
            external_id=external_id,
            private_chat_id=private_chat_id,
            platform_locale=platform_locale,
            created_at=now,
        )
        self._session.add(identity)
        await self._session.flush()
        return identity

    async def of_unit(self, unit_id: int) -> list[Member]:
        rows = await self._session.scalars(
            select(Member).where(Member.unit_id == unit_id, Member.active).order_by(Member.id)
        )
        return list(rows)

    async def private_chats(self, member_id: int) -> list[PlatformIdentity]:
        """The identities we can write to privately, most recent first."""
        rows = await self._session.scalars(
            select(PlatformIdentity)
            .where(
                PlatformIdentity.member_id == member_id,
                PlatformIdentity.private_chat_id.is_not(None),
            )
            .order_by(PlatformIdentity.id.desc())
        )
        return list(rows)

    async def admins(self, organisation_id: int) -> list[Member]:
        """The organisation's campaign admins (领导小组办公室)."""
        rows = await self._session.scalars(
            select(Member)
            .where(
                Member.organisation_id == organisation_id,
                Member.active,
                Member.role == Role.ADMIN,
            )
            .order_by(Member.id)
        )
        return list(rows)

    async def named(self, organisation_id: int, name: str) -> list[Member]:
        """Members whose display name is ``name`` (case-insensitive)."""
        rows = await self._session.scalars(
            select(Member).where(
                Member.organisation_id == organisation_id,
                Member.active,
                func.lower(Member.display_name) == name.casefold(),
            )
        )
        return list(rows)

"""People: members, their platform identities, where to write to them, and the invitations
(join codes for ``/start <code>``) that let a new person in."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.kept import keep_loaded
from storage.models import JoinCode, JoinRequest, Member, PlatformIdentity, Unit, Visitor
from storage.totals import Totals
from storage.upsert import insert_once

# Every event starts here: built once, as building it cost more than running it.
_BY_IDENTITY = (
    select(Member, PlatformIdentity, Unit)
    .join(PlatformIdentity, PlatformIdentity.member_id == Member.id)
    .outerjoin(Unit, Unit.id == Member.unit_id)
    .where(
        PlatformIdentity.platform == bindparam("platform"),
        PlatformIdentity.workspace == bindparam("workspace"),
        PlatformIdentity.external_id == bindparam("external_id"),
    )
)


class Members:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, member_id: int) -> Member | None:
        return await self._session.get(Member, member_id)

    async def by_identity(
        self, platform: str, workspace: str, external_id: str
    ) -> tuple[Member, PlatformIdentity] | None:
        # The member's unit comes in the same statement (every event asks for it next, and
        # ``Units.get`` then finds it loaded).
        row = (
            await self._session.execute(
                _BY_IDENTITY,
                {"platform": platform, "workspace": workspace, "external_id": external_id},
            )
        ).first()
        if row is None:
            return None
        keep_loaded(self._session, row[2])
        return row[0], row[1]

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
        await Totals(self._session).count_in(member)
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

    @staticmethod
    def set_locale(member: Member, locale: str) -> None:
        """The language the member chose (/lang)."""
        member.locale = locale

    async def set_role(self, member: Member, role: Role) -> None:
        """A new role (/role); only a supervisor stays the head of their unit. The member's
        points totals follow: a volunteer is not ranked, staff are."""
        totals = Totals(self._session)
        await totals.count_in(member, -1)
        member.role = role
        member.is_unit_head = role == Role.SUPERVISOR and member.is_unit_head
        await totals.count_in(member)
        await totals.follow_member(member)

    async def move(self, member: Member, unit_id: int) -> None:
        """Seat the member in another unit; their headcount and totals follow."""
        totals = Totals(self._session)
        await totals.count_in(member, -1)
        member.unit_id = unit_id
        await totals.count_in(member)
        await totals.follow_member(member)

    @staticmethod
    def set_head(member: Member, is_unit_head: bool) -> None:
        member.is_unit_head = is_unit_head

    @staticmethod
    def set_name_hidden(member: Member, hidden: bool) -> None:
        """Whether leaderboards show the member's initials instead of their name."""
        member.hide_name = hidden

    async def request_to_join(
        self,
        *,
        organisation_id: int,
        unit_id: int,
        platform: str,
        workspace: str,
        external_id: str,
        display_name: str,
        platform_locale: str | None,
        now: dt.datetime,
    ) -> tuple[JoinRequest, bool]:
        """The person's pending request in the organisation, made now unless one is waiting
        (then it is returned as it is, False)."""
        waiting = await self._session.scalar(
            select(JoinRequest).where(
                JoinRequest.organisation_id == organisation_id,
                JoinRequest.platform == platform,
                JoinRequest.workspace == workspace,
                JoinRequest.external_id == external_id,
                JoinRequest.status == "pending",
            )
        )
        if waiting is not None:
            return waiting, False
        request = JoinRequest(
            organisation_id=organisation_id,
            unit_id=unit_id,
            platform=platform,
            workspace=workspace,
            external_id=external_id,
            display_name=display_name,
            platform_locale=platform_locale,
            status="pending",
            created_at=now,
        )
        self._session.add(request)
        await self._session.flush()
        return request, True

    async def join_request(self, request_id: int) -> JoinRequest | None:
        return await self._session.get(JoinRequest, request_id)

    async def decide_request(
        self, request_id: int, status: str, by_member_id: int, now: dt.datetime
    ) -> bool:
        """Approve or decline a pending request, once: False if it was decided before."""
        result = await self._session.execute(
            update(JoinRequest)
            .where(JoinRequest.id == request_id, JoinRequest.status == "pending")
            .values(status=status, decided_by_member_id=by_member_id, decided_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return (result.rowcount or 0) == 1


class Invites:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        unit_id: int,
        role: str,
        created_by_member_id: int,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> JoinCode:
        code = JoinCode(
            code=secrets.token_urlsafe(9),
            unit_id=unit_id,
            role=role,
            created_by_member_id=created_by_member_id,
            expires_at=expires_at,
            created_at=now,
        )
        self._session.add(code)
        await self._session.flush()
        return code

    async def valid(self, code: str, now: dt.datetime) -> JoinCode | None:
        found = await self._session.scalar(select(JoinCode).where(JoinCode.code == code))
        return found if found is not None and found.expires_at > now else None


class Visitors:
    """People the campaign does not know yet: the language they chose (/lang) before joining."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def locale(self, platform: str, workspace: str, external_id: str) -> str | None:
        return await self._session.scalar(
            select(Visitor.locale).where(
                Visitor.platform == platform,
                Visitor.workspace == workspace,
                Visitor.external_id == external_id,
            )
        )

    async def choose_locale(
        self, platform: str, workspace: str, external_id: str, locale: str, now: dt.datetime
    ) -> None:
        await insert_once(
            self._session,
            Visitor,
            {
                "platform": platform,
                "workspace": workspace,
                "external_id": external_id,
                "locale": locale,
                "updated_at": now,
            },
            ("platform", "workspace", "external_id"),
        )
        await self._session.execute(
            update(Visitor)
            .where(
                Visitor.platform == platform,
                Visitor.workspace == workspace,
                Visitor.external_id == external_id,
            )
            .values(locale=locale, updated_at=now)
        )

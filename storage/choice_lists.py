"""Long choice lists of forms, kept under a token so a platform can search them as a person types
(Slack's external select carries only the token). Old lists are forgotten by housekeeping."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChoiceList


class ChoiceLists:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, choices: list[dict[str, Any]], now: dt.datetime) -> str:
        """Keep ``choices`` (each ``{"value", "label"}``) and return the token to find them."""
        token = secrets.token_urlsafe(16)
        self._session.add(ChoiceList(token=token, choices=choices, created_at=now))
        await self._session.flush()
        return token

    async def find(self, token: str) -> list[dict[str, Any]] | None:
        return await self._session.scalar(
            select(ChoiceList.choices).where(ChoiceList.token == token)
        )

    async def forget_before(self, moment: dt.datetime) -> None:
        await self._session.execute(delete(ChoiceList).where(ChoiceList.created_at < moment))

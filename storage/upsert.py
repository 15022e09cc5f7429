"""``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike: inserts that may repeat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def insert_once(
    session: AsyncSession,
    model: type[DeclarativeBase],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> int | None:
    """Insert a row unless one with the same ``conflict_columns`` exists.

    Returns the new row's id, or None when the row was already there (a repeat)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(model.id)  # type: ignore[attr-defined]
    )
    result = await session.execute(statement)
    return result.scalar_one_or_none()

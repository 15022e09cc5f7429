"""``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL alike: inserts that may repeat."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam
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
    statement = _insert_once(dialect, model, tuple(values), tuple(conflict_columns))
    result = await session.execute(statement, dict(values))
    return result.scalar_one_or_none()


@functools.cache
def _insert_once(
    dialect: str,
    model: type[DeclarativeBase],
    columns: tuple[str, ...],
    conflict_columns: tuple[str, ...],
) -> Any:
    """The statement for these columns, built once: building it costs more than running it
    (every drill answer, ledger row and outbox row goes through here)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    return (  # on the table, not the class: no ORM bookkeeping for a row nobody loads
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(table.c.id)
    )

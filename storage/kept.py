"""Rows read beside the one asked for, held for the rest of the unit of work.

A session's identity map holds its rows weakly: a row nobody references is forgotten at once, and
the next ``session.get`` for it reads it again. A query that loads a drill's item and campaign
with the drill, or a member's unit with the member, keeps them here so that the ``get`` which
follows finds them without a statement.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

_KEPT = "uplift_kept_rows"


def keep_loaded(session: AsyncSession, *rows: object) -> None:
    """Hold ``rows`` (None is skipped) until the session ends."""
    session.info.setdefault(_KEPT, []).extend(row for row in rows if row is not None)

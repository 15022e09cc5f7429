"""A report's points ledger read from the database while its sheet is written.

The sheet is written in a worker thread (XlsxWriter is synchronous and a ledger may have millions
of rows); the rows come from an async stream on the event loop. ``StreamedLedger`` hands them
across one batch at a time, so neither side ever holds the whole ledger."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

from messages.reports.model import SOURCES, DailyPoints, LedgerRow
from storage.reports import Scope
from storage.store import Store

T = TypeVar("T")


class StreamedLedger:
    """The ledger of ``scope`` (a ``LedgerFeed``): its size is read when the report is built,
    its rows while the sheet is written, inside the same unit of work. Make it with ``of``, on
    the event loop."""

    def __init__(
        self,
        store: Store,
        scope: Scope,
        unit_names: dict[int, str],
        size: tuple[int, int],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._rows = store.reports
        self._scope = scope
        self._unit_names = unit_names
        self._entries, self._points = size
        self._loop = loop
        self._loop_thread = threading.get_ident()  # made on the loop (``of``)

    @classmethod
    async def of(cls, store: Store, scope: Scope, unit_names: dict[int, str]) -> StreamedLedger:
        return cls(
            store,
            scope,
            unit_names,
            await store.reports.ledger_size(scope),
            asyncio.get_running_loop(),
        )

    @property
    def points(self) -> int:
        return self._points

    @property
    def entries(self) -> int:
        return self._entries

    def days(self) -> Iterator[DailyPoints]:
        def day(row: Any) -> DailyPoints:
            date, _, name, unit_id, *by_source, points = row
            return DailyPoints(
                date,
                name or "",
                self._unit_names.get(unit_id, ""),
                *(int(value or 0) for value in by_source),
                points=int(points or 0),
            )

        return self._pull(lambda: self._rows.daily_points(self._scope, SOURCES), day)

    def rows(self) -> Iterator[LedgerRow]:
        def entry(row: Any) -> LedgerRow:
            entry_id, date, name, unit_id, source, rule, points = row
            return LedgerRow(
                entry_id, date, name or "", self._unit_names.get(unit_id, ""), source, rule, points
            )

        return self._pull(lambda: self._rows.ledger_entries(self._scope), entry)

    def _pull(
        self, open_stream: Callable[[], AsyncIterator[Sequence[Any]]], convert: Callable[[Any], T]
    ) -> Iterator[T]:
        """The stream's rows, fetched on the event loop a batch at a time for this thread."""
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("read a streamed ledger from a worker thread (asyncio.to_thread)")

        def on_loop(coroutine: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

        async def start() -> AsyncIterator[Sequence[Any]]:
            return open_stream()

        async def following(stream: AsyncIterator[Sequence[Any]]) -> Sequence[Any] | None:
            return await anext(stream, None)

        async def close(stream: Any) -> None:
            await stream.aclose()

        stream = on_loop(start())
        try:
            while (batch := on_loop(following(stream))) is not None:
                for row in batch:
                    yield convert(row)
        finally:
            on_loop(close(stream))

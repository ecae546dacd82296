"""Detail pages fetched by N tabs in parallel, fed through a bounded queue.

One `PagePool` lives for a whole pull: its N pages are opened once and reused,
so the per-record cost is one navigation. The queue is bounded (2×N) so a huge
list page never schedules thousands of coroutines at once; results come back
in input order. The first error cancels the rest and is re-raised (a
PortalChangedError must stop the run, not be buried among 500 successes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from playwright.async_api import Page

    from .runtime import PortalRuntime

T = TypeVar("T")
R = TypeVar("R")


class PagePool(Generic[T, R]):
    """N reusable tabs of one source's context."""

    def __init__(self, runtime: PortalRuntime, source: str, size: int):
        self.runtime = runtime
        self.source = source
        self.size = max(1, size)
        self._pages: list[Page] = []

    async def _ensure(self) -> None:
        while len(self._pages) < self.size:
            self._pages.append(await self.runtime.new_page(self.source))

    async def map(self, items: Sequence[T], fn: Callable[[Page, T], Awaitable[R]]) -> list[R]:
        """`[await fn(page, item) for item in items]`, N at a time, results in order."""
        if not items:
            return []
        await self._ensure()
        n = min(self.size, len(items))
        queue: asyncio.Queue[tuple[int, T] | None] = asyncio.Queue(maxsize=2 * n)
        results: dict[int, R] = {}

        async def worker(page: Page) -> None:
            """Run `fn` with this tab on queued items until the end marker (None) arrives."""
            while True:
                job = await queue.get()
                if job is None:
                    return
                i, item = job
                results[i] = await fn(page, item)

        async def feed() -> None:
            """Queue every item with its index, then one end marker per worker."""
            for job in enumerate(items):
                await queue.put(job)
            for _ in range(n):
                await queue.put(None)

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(feed())
                for page in self._pages[:n]:
                    tg.create_task(worker(page))
        except BaseExceptionGroup as eg:
            raise _first_leaf(eg) from None
        return [results[i] for i in range(len(items))]

    async def aclose(self) -> None:
        """Close the pool's tabs."""
        for p in self._pages:
            if not p.is_closed():
                await p.close()
        self._pages.clear()


def _first_leaf(eg: BaseExceptionGroup) -> BaseException:
    exc: BaseException = eg
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc

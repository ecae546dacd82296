"""SYNC: pull a source page by page and land each page with its cursor.

This is the logic behind the `sync_source` flow and `hub pull`: the flow adds
Prefect (tasks, artifacts, retries); this module knows only connectors and the
store. Each page is landed in its own transaction together with the cursor
after it, so a crash loses nothing and a rerun resumes from the last page.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from connectors.base import Connector
from hub.errors import HubError, PortalChangedError
from hub.logs import get_logger
from hub.schema import Source
from hub.store import Store
from hub.store import landing

log = get_logger(__name__)


@dataclass
class PullStats:
    """What one pull of one source did (printed by the CLI, tabled by the flows)."""

    source: str
    pages: int = 0
    pulled: int = 0
    new: int = 0
    seconds: float = 0.0
    cursor: Any = None
    error: str | None = None
    error_kind: str | None = None  # class name of the HubError, for operators
    screenshot: str | None = None
    trace: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def pull_and_land(store: Store, source: Source | str, connector: Connector, *,
                        cursor: Any = ..., move_cursor: bool = True, max_pages: int | None = None) -> PullStats:
    """Pull `source` from its committed cursor (or `cursor`), landing page by page.

    `move_cursor=False` (backfill) lands records but leaves the committed cursor alone.
    Errors are not swallowed: the caller decides; pages landed before the error stay landed.
    """
    source = Source(source)
    stats = PullStats(source=source.value)
    started = time.perf_counter()
    if cursor is ...:
        with store.begin() as conn:
            cursor = landing.get_cursor(conn, source)
    stats.cursor = cursor
    try:
        async for page in connector.pull(cursor):
            with store.begin() as conn:
                if move_cursor:
                    res = landing.land_in(conn, source, page.records, page.cursor)
                else:
                    committed = landing.get_cursor(conn, source)
                    res = landing.land_in(conn, source, page.records, committed)
            stats.pages += 1
            stats.pulled += res.seen
            stats.new += res.new
            stats.cursor = page.cursor
            for k, v in page.stats.items():
                if isinstance(v, int | float):
                    stats.extra[k] = stats.extra.get(k, 0) + v
            if max_pages is not None and stats.pages >= max_pages:
                break
    except PortalChangedError as exc:
        _record_error(stats, exc)
        stats.screenshot = str(exc.screenshot) if exc.screenshot else None
        stats.trace = str(exc.trace) if exc.trace else None
        raise
    except HubError as exc:
        _record_error(stats, exc)
        raise
    finally:
        stats.seconds = round(time.perf_counter() - started, 3)
        log.info("pulled %s: pages=%d records=%d new=%d in %.2fs", source.value, stats.pages, stats.pulled,
                 stats.new, stats.seconds)
    return stats


def _record_error(stats: PullStats, exc: HubError) -> None:
    stats.error = str(exc)
    stats.error_kind = type(exc).__name__

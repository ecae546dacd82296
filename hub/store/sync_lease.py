"""One sync of a source at a time where Prefect's global concurrency limit does not reach: a store lease.

Inside a Prefect flow every task that syncs a source holds the `hub-sync-<source>` limit
(`flows.concurrency`). That limit lives in *one* Prefect server, and some entry points run a
sync outside it: `hub pull` and `hub quarantine replay` call the pipeline directly, the
benchmarks call `sync_once`, and `hub sync` / `hub cycle` / `make demo` without
`PREFECT_API_URL` start a temporary server of their own, whose limits nobody else sees. So the
pipeline itself (`hub.pipeline.sync.sync_once` / `replay_once`, `hub.pipeline.pull.pull_source`)
also takes a lease per source in the store every process shares:

- a row of `sync_leases` per source: `holder` (`host:pid:token`), `acquired_at`, `expires_at`;
- taking it is one UPDATE of every wanted row that is free, expired or already ours — all or
  none (a multi-source replay never deadlocks against single-source syncs);
- while held, a thread renews `expires_at` every `RENEW_EVERY`; a holder that died (SIGKILL,
  OOM) stops renewing and is taken over `LEASE_TTL` later — at once when it ran on this host
  and its process is gone (`hub.store.processes`), so a rerun right after a crash does not wait;
- a second sync waits its turn (polling, and saying so in its log) up to the sync deadline
  (`config/recovery.yaml` `deadlines.sync`) plus one TTL, then gives up with `SyncBusy`.

Nested holders in one task (sync_once → pull_source) are one holder (a context variable).
Inside Prefect the limit is taken first, so the lease is normally free by the time a task asks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError

from core.errors import SyncBusy
from core.logs import get_logger
from core.schema import to_local, utcnow
from hub.store.db import Store
from hub.store.faults import store_fault
from hub.store.processes import dead_local
from hub.store.sql import insert_ignore
from hub.store.tables import sync_leases

log = get_logger(__name__)

#: a holder that stops renewing frees its sources after this long
LEASE_TTL = timedelta(seconds=60)
RENEW_EVERY = 15.0
POLL_SECONDS = 1.0
_held: ContextVar[frozenset[str]] = ContextVar("hub_sync_leases_held", default=frozenset())


class _Busy(Exception):
    """Raised inside the taking transaction to roll it back: some source is held by someone else."""


def new_holder() -> str:
    """This process and one lease of it: `host:pid:token`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_take(store: Store, sources: Sequence[str], holder: str) -> bool:
    """Take every source's lease at once, or none (they are free, expired or already this holder's)."""
    now = utcnow()
    try:
        with store.begin() as conn:
            conn.execute(insert_ignore(conn, sync_leases, ["source"]), [{"source": s} for s in sources])
            dead = _dead_holders(conn.execute(select(sync_leases.c.holder).where(
                sync_leases.c.source.in_(list(sources)), sync_leases.c.holder.is_not(None))).scalars())
            n = conn.execute(update(sync_leases).where(
                sync_leases.c.source.in_(list(sources)),
                or_(sync_leases.c.holder.is_(None), sync_leases.c.expires_at < now, sync_leases.c.holder == holder,
                    sync_leases.c.holder.in_(dead)),
            ).values(holder=holder, acquired_at=now, expires_at=now + LEASE_TTL)).rowcount
            if n != len(sources):
                raise _Busy
    except _Busy:
        return False
    except DBAPIError as exc:  # a database without this table (not migrated), a full disk, the server down
        raise store_fault(exc, f"taking the sync lease of {', '.join(sources)}") from None
    return True


def _dead_holders(current: Iterable[str | None]) -> list[str]:
    """The holders among `current` whose process on this host is gone: theirs is free at once, no TTL wait."""
    out = []
    for h in current:
        host, _, rest = (h or "").partition(":")
        if dead_local(host, rest.partition(":")[0]):
            out.append(str(h))
    return out


def holders(store: Store, sources: Sequence[str]) -> dict[str, tuple[str | None, datetime | None]]:
    """Who holds each source's lease and until when (the waiting line names them)."""
    with store.begin() as conn:
        rows = conn.execute(select(sync_leases.c.source, sync_leases.c.holder, sync_leases.c.expires_at).where(
            sync_leases.c.source.in_(list(sources)))).all()
    return {r.source: (r.holder, r.expires_at) for r in rows}


def release(store: Store, sources: Sequence[str], holder: str) -> None:
    """Free the sources this holder holds (a lease taken over meanwhile is left to its new holder)."""
    with store.begin() as conn:
        conn.execute(update(sync_leases).where(sync_leases.c.source.in_(list(sources)),
                                               sync_leases.c.holder == holder)
                     .values(holder=None, expires_at=None))


def _renew(store: Store, sources: Sequence[str], holder: str) -> int:
    with store.begin() as conn:
        return int(conn.execute(update(sync_leases).where(
            sync_leases.c.source.in_(list(sources)), sync_leases.c.holder == holder,
        ).values(expires_at=utcnow() + LEASE_TTL)).rowcount or 0)


class _Renewer(threading.Thread):
    """Extends the lease every `RENEW_EVERY` until stopped (a thread: it renews while the event loop is busy)."""

    def __init__(self, store: Store, sources: Sequence[str], holder: str):
        super().__init__(name=f"sync-lease-{'+'.join(sources)}", daemon=True)
        self.store, self.sources, self.holder = store, list(sources), holder
        self.stopped = threading.Event()

    def run(self) -> None:
        """Renew until stopped; say so loudly when the lease was lost (this holder stalled past the TTL)."""
        while not self.stopped.wait(RENEW_EVERY):
            try:
                kept = _renew(self.store, self.sources, self.holder)
            except Exception as exc:  # noqa: BLE001 - the store is away; the next beat tries again
                log.warning("renewing the sync lease of %s failed: %s", ", ".join(self.sources), type(exc).__name__)
                continue
            if self.stopped.is_set():
                # the holder finished while this renewal waited for the store (on SQLite, behind the
                # run's own long write): it has released the lease, so finding none is no takeover
                return
            if kept < len(self.sources):
                log.error("the sync lease of %s was taken over (this run stalled past %.0f s)",
                          ", ".join(self.sources), LEASE_TTL.total_seconds())


def _max_wait() -> float:
    from hub.recovery.config import get_recovery_config

    return get_recovery_config().deadlines.sync.total_seconds() + LEASE_TTL.total_seconds()


def _busy_line(store: Store, sources: Sequence[str], holder: str) -> str:
    others = {s: h for s, h in holders(store, sources).items() if h[0] not in (None, holder)}
    return ", ".join(f"{s} (held by {who} until {to_local(until).strftime('%H:%M:%S')})" if until else s
                     for s, (who, until) in sorted(others.items())) or ", ".join(sources)


def _wanted(sources: Sequence[str]) -> list[str]:
    return sorted(set(sources) - _held.get())


def _waited(sources: Sequence[str], since: float) -> None:
    waited = time.monotonic() - since
    if waited >= 1.0:
        log.info("waited %.0f s for the store lease of %s (another sync of it ran)", waited, ", ".join(sources))


@contextmanager
def _holding(store: Store, sources: list[str], holder: str) -> Iterator[None]:
    renewer = _Renewer(store, sources, holder)
    renewer.start()
    token = _held.set(_held.get() | set(sources))
    try:
        yield
    finally:
        _held.reset(token)
        renewer.stopped.set()
        try:
            release(store, sources, holder)
        except Exception as exc:  # noqa: BLE001 - not released: it expires after LEASE_TTL
            log.warning("releasing the sync lease of %s failed (%s); it expires in %.0f s", ", ".join(sources),
                        type(exc).__name__, LEASE_TTL.total_seconds())


class _Taker:
    """The wait for one set of sources: each `step` tries once; past the limit it raises `SyncBusy`."""

    def __init__(self, store: Store, wanted: list[str], max_wait: float | None):
        self.store, self.wanted, self.holder = store, wanted, new_holder()
        self.limit = _max_wait() if max_wait is None else max_wait
        self.t0, self.told = time.monotonic(), False

    def step(self) -> bool:
        """Try to take the leases; False means: wait `POLL_SECONDS` and step again."""
        if try_take(self.store, self.wanted, self.holder):
            _waited(self.wanted, self.t0)
            return True
        if not self.told:
            # WARNING: the one line a `hub pull` in a terminal shows (the CLI logs warnings only)
            log.warning("another sync holds the store lease of %s: waiting",
                     _busy_line(self.store, self.wanted, self.holder))
            self.told = True
        if time.monotonic() - self.t0 > self.limit:
            raise SyncBusy(f"another sync of {', '.join(self.wanted)} held its store lease for more than "
                           f"{self.limit:.0f} s")
        return False


@asynccontextmanager
async def hold_sync_async(store: Store, sources: Sequence[str], *, max_wait: float | None = None
                          ) -> AsyncIterator[None]:
    """Hold the store lease of every source for the body (waiting, without blocking the event loop)."""
    wanted = _wanted(sources)
    if not wanted:  # an outer frame of this task holds them already
        yield
        return
    taker = _Taker(store, wanted, max_wait)
    while not taker.step():
        await asyncio.sleep(POLL_SECONDS)
    with _holding(store, wanted, taker.holder):
        yield


@contextmanager
def hold_sync(store: Store, sources: Sequence[str], *, max_wait: float | None = None) -> Iterator[None]:
    """`hold_sync_async` for synchronous callers (the quarantine replay)."""
    wanted = _wanted(sources)
    if not wanted:
        yield
        return
    taker = _Taker(store, wanted, max_wait)
    while not taker.step():
        time.sleep(POLL_SECONDS)
    with _holding(store, wanted, taker.holder):
        yield

"""One sync of a source at a time, whichever flow runs it (sync-source, sync-all, cycle, backfill, replay).

A deployment's `concurrency_limit` only keeps two runs of *that deployment* apart; a
sync-all or a cycle beside a sync-source of the same source would still overlap. Every
task that pulls or re-maps a source therefore holds that source's Prefect global
concurrency limit `hub-sync-<source>` (limit 1) for its whole body: a second one waits
its turn (and says so in its log), it is neither run beside nor cancelled. The limits
are created on first use (and by `hub prefect setup`); a crashed holder's slot is freed
when its lease runs out (Prefect renews leases while the task runs).

When Prefect is absent, this limit does not apply, and several entry points run a source's
sync there: `hub pull` (`hub.pipeline.pull.pull_source`) and `hub quarantine replay`
(`replay_once`) call the pipeline directly; `bench` calls `sync_once` and `pull_source`; `hub
sync`, `hub cycle` and `make demo` without `PREFECT_API_URL` run these flows on a temporary
server of their own (`cli.prefect_server`), whose limits no worker sees. So the pipeline takes a
second lock itself: a store lease per source (`hub.store.sync_lease`, table `sync_leases`:
holder + expiry, renewed while running, taken over once expired). Every sync holds it — inside
a flow after this limit, so it is then normally free — and a sync outside Prefect waits for one
inside it and vice versa.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency as async_concurrency
from prefect.concurrency.sync import concurrency as sync_concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.utilities.asyncutils import run_coro_as_sync

PREFIX = "hub-sync-"
#: a holder that stops renewing (killed worker) frees its slot after this long
LEASE_SECONDS = 60.0
_ensured: set[str] = set()


def limit_name(source: str) -> str:
    """The global concurrency limit of one source."""
    return f"{PREFIX}{source}"


async def ensure_limits(sources: Iterable[str]) -> list[str]:
    """Create the missing `hub-sync-<source>` limits (limit 1); returns their names, sorted."""
    names = sorted({limit_name(s) for s in sources})
    todo = [n for n in names if n not in _ensured]
    if todo:
        async with get_client() as client:
            for name in todo:
                try:
                    await client.read_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    try:
                        await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
                    except ObjectAlreadyExists:  # another worker made it first
                        pass
                _ensured.add(name)
    return names


def _waited(sources: Iterable[str], since: float) -> None:
    waited = time.monotonic() - since
    if waited >= 1.0:
        get_run_logger().info("waited %.0f s for another sync of %s to finish", waited, ", ".join(sorted(sources)))


@asynccontextmanager
async def one_sync_at_a_time(*sources: str) -> AsyncIterator[None]:
    """Hold the slot of every given source (all at once, so two multi-source holders never deadlock)."""
    names = await ensure_limits(sources)
    t0 = time.monotonic()
    async with async_concurrency(names, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        _waited(sources, t0)
        yield


@contextmanager
def one_sync_at_a_time_sync(*sources: str) -> Iterator[None]:
    """`one_sync_at_a_time` for synchronous tasks (the quarantine replay)."""
    names = run_coro_as_sync(ensure_limits(sources)) or []
    t0 = time.monotonic()
    with sync_concurrency(names, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        _waited(sources, t0)
        yield

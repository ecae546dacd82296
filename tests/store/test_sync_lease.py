"""The store lease per source (hub.store.sync_lease): one sync of a source at a time where no shared
Prefect limit applies — `hub pull`, `hub quarantine replay`, the benchmarks, and `hub sync` without
PREFECT_API_URL (its temporary server's limits are its own)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.errors import SyncBusy
from core.schema import utcnow
from hub.store import sync_lease
from hub.store.sync_lease import hold_sync, release, try_take
from hub.store.tables import sync_leases, sync_state


def test_taken_all_or_none_freed_on_release_and_taken_over_when_expired(store) -> None:  # noqa: ANN001
    assert try_take(store, ["app"], "h1")
    assert not try_take(store, ["app"], "h2")
    assert try_take(store, ["app"], "h1")  # already its own: renewed, not refused
    assert not try_take(store, ["sms", "app"], "h2")  # all or none: sms stays free
    with store.begin() as conn:
        assert conn.execute(select(sync_leases.c.holder).where(sync_leases.c.source == "sms")).scalar() is None
    release(store, ["app"], "h2")  # not its lease: nothing happens
    assert not try_take(store, ["app"], "h2")
    release(store, ["app"], "h1")
    assert try_take(store, ["app", "sms"], "h2")
    with store.begin() as conn:  # h2 died: it stopped renewing a while ago
        conn.execute(update(sync_leases).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert try_take(store, ["app"], "h3")


def test_a_live_holder_is_renewed_past_its_ttl_and_a_waiter_gives_up_with_syncbusy(sqlite_store, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(sync_lease, "LEASE_TTL", timedelta(seconds=1))
    monkeypatch.setattr(sync_lease, "RENEW_EVERY", 0.2)
    monkeypatch.setattr(sync_lease, "POLL_SECONDS", 0.1)
    with hold_sync(sqlite_store, ["app"]):
        deadline = time.monotonic() + 2.5  # more than two TTLs: only renewing keeps it
        while time.monotonic() < deadline:
            assert not try_take(sqlite_store, ["app"], "intruder")
            time.sleep(0.2)
        def other_sync() -> None:
            """Another thread (another holder; one thread's nested holds are one holder)."""
            with hold_sync(sqlite_store, ["app"], max_wait=0.5):
                pass

        t0 = time.monotonic()
        with ThreadPoolExecutor(1) as pool, pytest.raises(SyncBusy, match="app"):
            pool.submit(other_sync).result()
        assert time.monotonic() - t0 >= 0.5
    assert try_take(sqlite_store, ["app"], "after")


def test_a_lease_taken_over_while_held_is_reported(sqlite_store, monkeypatch, caplog) -> None:  # noqa: ANN001
    monkeypatch.setattr(sync_lease, "RENEW_EVERY", 0.05)
    with caplog.at_level("ERROR", logger="hub.store.sync_lease"), hold_sync(sqlite_store, ["app"]):
        with sqlite_store.begin() as conn:  # another worker took it (this one had stalled past the TTL)
            conn.execute(update(sync_leases).where(sync_leases.c.source == "app").values(holder="other:1:x"))
        deadline = time.monotonic() + 5
        while "was taken over" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "the sync lease of app was taken over" in caplog.text


def test_a_renewal_that_ends_after_the_release_is_no_takeover(sqlite_store, monkeypatch, caplog) -> None:  # noqa: ANN001
    """A renewal waiting for the store (the run's own long write holds SQLite's lock) that goes through
    only after the holder released the lease finds no lease of its own: that is the release, not a loss."""
    import threading

    monkeypatch.setattr(sync_lease, "RENEW_EVERY", 0.05)
    released, renewed = threading.Event(), threading.Event()
    real_renew, real_release = sync_lease._renew, sync_lease.release

    def slow_renew(store, sources, holder):  # noqa: ANN001, ANN202
        released.wait(5)  # held up until the holder has let go
        try:
            return real_renew(store, sources, holder)
        finally:
            renewed.set()

    def release(store, sources, holder):  # noqa: ANN001, ANN202
        real_release(store, sources, holder)
        released.set()

    monkeypatch.setattr(sync_lease, "_renew", slow_renew)
    monkeypatch.setattr(sync_lease, "release", release)
    with caplog.at_level("ERROR", logger="hub.store.sync_lease"):
        with hold_sync(sqlite_store, ["app"]):
            time.sleep(0.2)  # the renewer is inside _renew, waiting
        assert renewed.wait(5)  # it did renew (0 rows: released) after the release
        time.sleep(0.1)
    assert "taken over" not in caplog.text
    assert try_take(sqlite_store, ["app"], "next")


async def test_two_syncs_of_one_source_without_prefect_never_overlap(sqlite_store, hub_sources, monkeypatch,
                                                                     caplog) -> None:  # noqa: ANN001
    import hub.pipeline.sync as sync

    spans: list[tuple[float, float]] = []
    real = sync._sync_held

    async def timed(*a, **kw):  # noqa: ANN002, ANN003, ANN202 - the real body, timed
        t0 = time.monotonic()
        try:
            return await real(*a, **kw)
        finally:
            spans.append((t0, time.monotonic()))

    monkeypatch.setattr(sync, "_sync_held", timed)
    hub_sources.set_faults("app", latency_ms=150)
    caplog.set_level("INFO", logger="hub.store.sync_lease")
    first, second = await asyncio.gather(sync.sync_once(sqlite_store, "app"), sync.sync_once(sqlite_store, "app"))
    assert not first.failed and not second.failed, (first.error, second.error)
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 >= a1, f"two syncs of app overlapped: {spans}"
    assert "another sync holds the store lease of app" in caplog.text


def test_hub_pull_in_another_process_waits_for_the_lease(sqlite_store, hub_sources, tmp_path: Path) -> None:  # noqa: ANN001
    env = {**os.environ, "HUB_DATABASE_URL": str(sqlite_store.engine.url), "HUB_LOG_LEVEL": "INFO",
           "HUB_SANDBOX": "1"}  # the sandbox's demo credentials, whatever an earlier test left in os.environ
    hub = str(Path(sys.executable).parent / "hub")
    with hold_sync(sqlite_store, ["app"]):  # a sync of app is running here
        proc = subprocess.Popen([hub, "pull", "app", "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        waiting = ""
        deadline = time.monotonic() + 120
        while "another sync holds the store lease of app" not in waiting and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            waiting += line
        if "another sync holds the store lease of app" not in waiting:
            out, err = proc.communicate(timeout=60)
            raise AssertionError(f"the second pull did not wait (exit {proc.returncode}): {waiting}{err}{out}"[-3000:])
        with sqlite_store.begin() as conn:
            assert conn.execute(select(sync_state).where(sync_state.c.source == "app")).first() is None
        released = utcnow()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert json.loads(out)["records"] > 0
    with sqlite_store.begin() as conn:
        landed = conn.execute(select(sync_state.c.last_run_at).where(sync_state.c.source == "app")).scalar()
    assert landed >= released  # nothing of the second pull landed while the first held the lease


def test_a_holder_killed_on_this_host_is_taken_over_at_once(store) -> None:  # noqa: ANN001
    """A rerun right after a SIGKILL must not wait out the TTL: the dead holder's process is gone."""
    import socket

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = f"{socket.gethostname()}:{proc.pid}:deadbeef"
    try:
        assert try_take(store, ["app"], holder)
        assert not try_take(store, ["app"], "other:1:x")  # its process lives: the lease holds
    finally:
        proc.kill()
        proc.wait()
    assert try_take(store, ["app"], sync_lease.new_holder())  # killed: free at once, not after 60 s
    assert try_take(store, ["sms"], "remote-host:999999:x")
    assert not try_take(store, ["sms"], sync_lease.new_holder())  # a holder on another host waits for its TTL

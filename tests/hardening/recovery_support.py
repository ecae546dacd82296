"""Kill a sync mid-run, rerun it once at once, and count the complaints left without a team."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.settings import PROJECT_ROOT

HTTP_SOURCES = ["app", "sms", "callcenter"]


def worker_env(db_url: str, urls: dict[str, str], tmp: Path) -> dict[str, str]:
    """The environment of a sync worker subprocess: this store, the sandbox's URLs."""
    f = tmp / "urls.json"
    f.write_text(json.dumps(urls))
    return {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_SOURCE_URLS": str(f), "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1"}


def sync_cmd() -> list[str]:
    """The worker: one `sync_sources` run over the HTTP sources."""
    return [sys.executable, "-m", "tests.hardening.sync_worker", "--sources", ",".join(HTTP_SOURCES)]


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    """Start a sync worker and wait for its `ready` line (imports done, the sync starts now)."""
    proc = subprocess.Popen(sync_cmd(), cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=open(os.environ.get("SYNC_WORKER_LOG", os.devnull), "a"), text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], timeout: float = 60.0) -> bool:
    """SIGKILL the worker as soon as `ready()` holds (polled); True when it was still running then."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.05)
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    if proc.stdout is not None:
        proc.stdout.close()
    return alive


def rerun(env: dict[str, str], timeout: float = 300) -> str:
    """One clean sync run to its end; returns its last line (`done <routed>`)."""
    proc = subprocess.run(sync_cmd(), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "done" not in proc.stdout:
        raise AssertionError(f"rerun failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def unrouted(store: Any) -> int:
    """Open complaint tickets with no team (what the issue counts)."""
    from hub.store.tables import tickets

    with store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.team.is_(None), tickets.c.status == "new", tickets.c.kind == "complaint")).scalar() or 0)


def complaint_tickets(store: Any) -> int:
    """All complaint tickets."""
    from hub.store.tables import tickets

    with store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.kind == "complaint")).scalar() or 0)

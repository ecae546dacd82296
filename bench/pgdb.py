"""A throw-away PostgreSQL database for one benchmark run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from hub.store.db import normalise_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def throwaway_database(prefix: str, admin_url: str | None = None) -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards (its connections too).

    `admin_url` (default `HUB_TEST_POSTGRES_URL`, else the local server's `postgres`
    database) is where CREATE/DROP DATABASE run.
    """
    admin = normalise_url(admin_url or os.environ.get("HUB_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with eng.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        eng.dispose()

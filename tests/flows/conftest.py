"""Flow tests run against Prefect's test harness, a fresh sandbox and a SQLite store."""

from __future__ import annotations

import pytest


@pytest.fixture
def flow_store(sqlite_store):  # noqa: ANN001, ANN201
    """Flows call get_store(): make it this test's SQLite store."""
    from hub.store import db

    db.use_store(sqlite_store)
    yield sqlite_store
    db.use_store(None)

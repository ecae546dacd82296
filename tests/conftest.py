"""Shared fixtures: an isolated HUB_HOME, a fixed PII key, SQLite and PostgreSQL stores.

PostgreSQL tests read `HUB_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/postgres),
create a throw-away database per test session and drop it at the end. When
PostgreSQL is unreachable they skip locally but FAIL under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

TEST_KEY = "q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU="  # test-only Fernet key
PG_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The tests run against the sandbox: its published demo credentials resolve only in this mode (issue 16).
os.environ["HUB_SANDBOX"] = "1"

# Fixture plugins, one module per area (add yours here).
pytest_plugins = ["tests.fixtures.prefect", "tests.fixtures.browser", "tests.fixtures.sandbox",
                  "tests.fixtures.hub_config", "tests.fixtures.hub_sources",
                  "tests.fixtures.prefect_server", "tests.fixtures.throwaway_pg"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def hub_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test session gets its own HUB_HOME and a fixed PII key."""
    home = tmp_path_factory.mktemp("hub-home")
    old = {k: os.environ.get(k) for k in ("HUB_HOME", "HUB_PII_KEY", "HUB_DATABASE_URL")}
    os.environ["HUB_HOME"] = str(home)
    os.environ["HUB_PII_KEY"] = TEST_KEY
    os.environ.pop("HUB_DATABASE_URL", None)
    _clear_caches()
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _clear_caches()


def _clear_caches() -> None:
    from core.configfile import reload_config

    reload_config()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped afterwards)."""
    from hub.store.db import normalise_url

    admin = normalise_url(PG_ADMIN_URL)
    try:
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        msg = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with eng.connect() as c:
        c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    eng.dispose()


def _fresh(store) -> None:  # noqa: ANN001
    from hub.store.tables import metadata

    with store.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def _pg_store(pg_url: str):  # noqa: ANN202
    from hub.store.db import Store

    store = Store(pg_url)
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path):  # noqa: ANN201
    """An empty, migrated SQLite store in a temp folder."""
    from hub.store.db import Store

    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def pg_store(_pg_store):  # noqa: ANN001, ANN201
    """The session's PostgreSQL store, emptied before each test."""
    _fresh(_pg_store)
    return _pg_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest):  # noqa: ANN201
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


@pytest.fixture
def use_store(store):  # noqa: ANN001, ANN201
    """Make `get_store()` (used by the CLI and flows) return this test's store."""
    from hub.store import db

    db.use_store(store)
    yield store
    db.use_store(None)

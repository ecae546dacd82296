"""Engine and transactions for SQLite (embedded default) and PostgreSQL.

A plain `postgresql://user@host/db` URL works: the hub picks the psycopg 3
driver. SQLite runs in WAL mode with a busy timeout so a reader never blocks
the writer and two processes can share the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from core import jsonutil
from core.configfile import cached_config
from core.settings import get_settings


def normalise_url(url: str) -> str:
    """Choose the driver: `postgresql://` → psycopg 3; sqlite paths made absolute-safe."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


# pysqlite keeps 128 prepared statements per connection, keyed by SQL text. The hub's
# batch reads expand IN lists, so each new batch length is a new text holding 0.1-0.4 MB:
# at a 100k backlog that cache grew SQLite's memory from 15 to 74 MB. The statements that
# repeat within a batch are few; 16 keeps them and lets the one-off texts go.
SQLITE_STATEMENT_CACHE = 16


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas/pool settings each backend needs."""
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "cached_statements": SQLITE_STATEMENT_CACHE},
                               json_serializer=jsonutil.dumps,
                               json_deserializer=jsonutil.loads)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # pysqlite's own transaction handling defers BEGIN; take the write lock
        # at BEGIN so concurrent writers queue instead of failing mid-transaction.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, json_serializer=jsonutil.dumps,
                         json_deserializer=jsonutil.loads)


#: PostgreSQL's SQLSTATEs for a transaction aborted to break a conflict: deadlock, serialization failure
_CONFLICT_STATES = {"40P01", "40001"}
T = TypeVar("T")


def is_transient_conflict(exc: BaseException) -> bool:
    """Whether the database aborted the transaction to resolve a conflict (worth running again)."""
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and getattr(orig, "sqlstate", None) in _CONFLICT_STATES


class Store:
    """Holds the engine; repository functions take a `Connection` from `begin()`."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)

    @property
    def dialect(self) -> str:
        """The database dialect's name (`sqlite` or `postgresql`)."""
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        """Whether the store runs on PostgreSQL."""
        return self.dialect == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: commits on success, rolls back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    def run_transaction(self, work: Callable[[Connection], T], attempts: int = 4) -> T:
        """`work(conn)` in one transaction, run again from the start when the database aborted it
        for a deadlock or a serialization failure (two workers updating the same rows in another
        order: PostgreSQL picks one to abort, and that one simply goes again). `work` must be
        safe to repeat, as every hub step is."""
        for attempt in Retrying(retry=retry_if_exception(is_transient_conflict), stop=stop_after_attempt(attempts),
                                wait=wait_random_exponential(multiplier=0.05, max=1.0), reraise=True):
            with attempt, self.begin() as conn:
                return work(conn)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (Alembic)."""
        from hub.store.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


_override: Store | None = None


def use_store(store: Store | None) -> None:
    """Make `get_store()` return this store (tests, embedded runs); None restores the default."""
    global _override
    _override = store


@cached_config
def _default_store() -> Store:
    return Store(get_settings().db_url)


def get_store() -> Store:
    """The process's store for `HUB_DATABASE_URL` (or SQLite under var/)."""
    return _override if _override is not None else _default_store()


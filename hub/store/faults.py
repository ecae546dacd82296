"""Name a store failure truly: disk full, database unreachable, schema missing — not one catch-all message.

A full disk used to be reported as "cannot read the cursor … run `hub db upgrade`
first", and a database that went away as a page of SQL. `store_fault` turns a
driver error into a `HubError` whose message says what happened and what to do;
the full traceback goes to the log once, at DEBUG.
"""

from __future__ import annotations

from core.errors import ConfigError, HubError, StoreUnavailable
from core.logs import get_logger

log = get_logger(__name__)

_DISK = ("database or disk is full", "no space left on device", "disk i/o error", "could not extend file",
         "could not write", "diskfull", "disk full")
_DOWN = ("connection refused", "could not connect", "server closed the connection", "terminating connection",
         "connection is closed", "connection timed out", "the database system is shutting down",
         "the database system is starting up", "connection not open", "consuming input failed",
         "unable to open database file", "ssl connection has been closed", "cannot connect")
_SCHEMA = ("no such table", "no such column", "does not exist")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]


def store_fault(exc: BaseException, doing: str) -> HubError:
    """The hub error for a store failure while `doing` (e.g. "reading the cursor of app"); logs the trace at DEBUG."""
    if isinstance(exc, HubError):
        return exc
    text = " ".join(str(x) for x in (exc, getattr(exc, "orig", ""))).lower()
    first = _first_line(exc)
    log.debug("store failure while %s", doing, exc_info=exc)
    if any(k in text for k in _DISK):
        return StoreUnavailable(f"the store's disk is full (or failing) while {doing}: {first}",
                                hint="free space on the database's disk, then rerun: nothing landed is lost")
    if any(k in text for k in _DOWN):
        return StoreUnavailable(f"the database is unreachable while {doing}: {first}",
                                hint="start the database (or check HUB_DATABASE_URL), then rerun")
    if any(k in text for k in _SCHEMA):
        return ConfigError(f"the store's schema is missing or old while {doing}: {first}",
                           hint="run `hub db upgrade` first")
    return StoreUnavailable(f"the store failed while {doing}: {type(exc).__name__}: {first}",
                            hint="see the log (DEBUG) for the full trace; rerun once the store is healthy")


def is_store_fault(exc: BaseException) -> bool:
    """Whether `exc` is a database driver error (SQLAlchemy's DBAPIError family or an OSError of the store)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, DBAPIError | OperationalError)

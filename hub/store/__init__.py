"""Storage: SQLAlchemy 2 Core tables, Alembic migrations and repository functions.

Submodules: `db` (engine, transactions), `tables` (schema), `landing` (raw records
+ cursor), `tickets` (upsert, events, queries), `quarantine`, `outbox`.
"""

from hub.store.db import Store, get_store

__all__ = ["Store", "get_store"]

"""Alembic environment: uses the engine handed over by hub.store.migrate."""

from alembic import context
from sqlalchemy import create_engine

from hub.store.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    """Migrate over the engine handed over by hub.store.migrate (else the configured URL)."""
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()

"""`hub db …`: schema management."""

from __future__ import annotations

import typer

from cli.common import console, operator_errors
from hub.store import get_store

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
@operator_errors
def upgrade() -> None:
    """Create or migrate the hub's tables (SQLite by default, or HUB_DATABASE_URL)."""
    store = get_store()
    store.upgrade()
    console.print(f"database at [bold]{store.engine.url.render_as_string(hide_password=True)}[/] is up to date")


@app.command("recount-load")
@operator_errors
def recount_load() -> None:
    """Rebuild the open-ticket counts per handler that least_loaded routing reads from the tickets
    themselves: after restoring a backup of some tables or editing rows by hand."""
    from hub.store.handler_load import recount

    with get_store().begin() as conn:
        n = recount(conn)
    console.print(f"open-ticket counts rebuilt for {n} handler(s)")

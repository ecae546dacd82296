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

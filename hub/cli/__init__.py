"""The `hub` command line (typer). Each command group lives in its own module."""

from __future__ import annotations

import typer

from hub.cli import db as _db
from hub.cli import tickets as _tickets

app = typer.Typer(help="Complaint hub: pull, normalise, route, chase and push back consumer complaints.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(_db.app, name="db")
app.add_typer(_tickets.app, name="tickets")

# Later command groups register here (one import + add_typer each).

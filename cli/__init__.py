"""The `hub` command line (typer). Each command group lives in its own module."""

from __future__ import annotations

import typer

from cli import api as _api
from cli import chase as _chase
from cli import classify as _classify
from cli import db as _db
from cli import doctor as _doctor
from cli import judge as _judge
from cli import mappings as _mappings
from cli import outbox as _outbox
from cli import prefect_setup as _prefect_setup
from cli import pull as _pull
from cli import quarantine as _quarantine
from cli import sandbox as _sandbox
from cli import sync as _sync
from cli import tickets as _tickets
from cli import users as _users

app = typer.Typer(help="Complaint hub: pull, normalise, route, chase and push back consumer complaints.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(_db.app, name="db")
app.add_typer(_tickets.app, name="tickets")
app.add_typer(_mappings.app, name="mappings")
app.add_typer(_quarantine.app, name="quarantine")
app.add_typer(_outbox.app, name="outbox")
app.add_typer(_chase.app, name="chase")
app.command("pull")(_pull.pull)
app.add_typer(_api.app, name="api")
app.add_typer(_users.app, name="users")
app.command("classify")(_classify.classify_cmd)
app.add_typer(_judge.app, name="judge")
app.add_typer(_sandbox.app, name="sandbox")
app.command("sync")(_sync.sync)
app.command("cycle")(_sync.cycle)
app.command("demo")(_sync.demo)
app.command("doctor")(_doctor.doctor)
app.add_typer(_prefect_setup.app, name="prefect")

# Later command groups register here (one import + add_typer each).

"""`hub chase run`: one chase scan plus survey replies and expiries."""

from __future__ import annotations

import dataclasses

import typer

from cli.common import console, emit_json, operator_errors
from hub.chase.reminders import chase
from hub.handling.replies import expire_surveys, process_replies
from hub.pipeline.stranded import route_stranded
from hub.store import get_store

app = typer.Typer(help="Chase (催办) overdue handlers; apply survey replies.", no_args_is_help=True)


@app.command("run")
@operator_errors
def run_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout.")) -> None:
    """Route complaints a dead run left without a team, then warn, remind and escalate due clocks;
    apply survey replies/unsubscribes; expire old surveys (what the chase-overdue flow does)."""
    store = get_store()
    stranded = dataclasses.asdict(route_stranded(store))  # first: they get clocks and are chased in this run
    doc = {"stranded": stranded, "chase": dataclasses.asdict(chase(store)), "survey": dataclasses.asdict(process_replies(store)),
           "surveys_expired": expire_surveys(store)}
    if as_json:
        emit_json(doc)
    else:
        console.print(doc)

"""`hub api token …`: team API tokens (stored hashed, shown once; listed and revoked by name or id)."""

from __future__ import annotations

import sys
from datetime import timedelta

import typer

from cli.common import console, emit_json, err_console, operator_errors
from core.errors import ConfigError
from hub.backoffice.auth import create_token, list_tokens, revoke_token, revoke_tokens
from hub.store import get_store

app = typer.Typer(help="Team API tokens (stored hashed; shown once).", no_args_is_help=True)


@app.command("create")
@operator_errors
def token_create(team: str = typer.Option(..., help="Team id from config/teams.yaml."),
                 role: str = typer.Option(..., help="handler | lead | compliance | admin."),
                 name: str = typer.Option(..., help="Who or what holds the token (handler id, system name)."),
                 expires_days: int = typer.Option(90, min=0, help="Days until it expires (0: never).")) -> None:
    """Create a token and print it once: it cannot be shown again (only its hash is stored)."""
    with get_store().begin() as conn:
        token = create_token(conn, team=team, role=role, name=name,
                             expires_in=timedelta(days=expires_days) if expires_days else None)
    err_console.print(f"token for {name} ({team}/{role}); store it now, it is not shown again:")
    sys.stdout.write(token + "\n")


@app.command("revoke")
@operator_errors
def token_revoke(name: str = typer.Option(None, "--name", help="Revoke every active token with this name."),
                 token_id: str = typer.Option(None, "--id", help="Revoke the token with this id (`token list`)."),
                 token: bool = typer.Option(False, "--token", help="Read the token itself from a prompt.")) -> None:
    """Revoke tokens by name or id (or by the token itself); they stop working at once."""
    if token:
        clear = typer.prompt("token", hide_input=True)
        with get_store().begin() as conn:
            n = int(revoke_token(conn, clear))
    else:
        with get_store().begin() as conn:
            n = revoke_tokens(conn, name=name, token_id=token_id)
    if not n:
        raise ConfigError("no active token matches")
    console.print(f"revoked {n} token(s)")


@app.command("list")
@operator_errors
def token_list(as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")) -> None:
    """List tokens: id, name, team, role, expiry, last use (never the tokens themselves)."""
    with get_store().begin() as conn:
        docs = list_tokens(conn)
    if as_json:
        emit_json(docs)
        return
    for d in docs:
        state = "revoked" if d["revoked_at"] else "active"
        console.print(f"{d['id']}  {d['team']:<12} {d['role']:<10} {d['name']:<24} {state:<8} "
                      f"expires {d['expires_at'] or 'never'}  last used {d['last_used_at'] or '-'}")

"""`hub api …` (serve the API/console, manage team tokens) and `hub users …` (console accounts)."""

from __future__ import annotations

import getpass
import sys

import typer
from sqlalchemy import select

from cli.common import console, emit_json, err_console, operator_errors
from core.errors import ConfigError
from hub.backoffice.auth import create_token, revoke_token
from hub.backoffice.users import add_user
from hub.secret_check import require_safe_secrets
from hub.store import get_store
from hub.store.tables import api_tokens

app = typer.Typer(help="Back-office API and web console.", no_args_is_help=True)
token_app = typer.Typer(help="Team API tokens (stored hashed; shown once).", no_args_is_help=True)
app.add_typer(token_app, name="token")
users_app = typer.Typer(help="Web console users (argon2-hashed passwords).", no_args_is_help=True)


@app.command("serve")
@operator_errors
def serve_cmd(host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
              port: int = typer.Option(8300, help="Port.")) -> None:
    """Serve the API (/api/v1, /openapi.json), the console (/console/) and team callbacks."""
    from web.app import create_app
    from web.server import serve

    require_safe_secrets("hub api serve")
    console.print(f"serving on http://{host}:{port}/console/ (API spec: /openapi.json)")
    serve(create_app(), host=host, port=port)


@token_app.command("create")
@operator_errors
def token_create(team: str = typer.Option(..., help="Team id from config/teams.yaml."),
                 role: str = typer.Option(..., help="handler | lead | compliance | admin."),
                 name: str = typer.Option(..., help="Who or what holds the token (handler id, system name).")) -> None:
    """Create a token and print it once: it cannot be shown again (only its hash is stored)."""
    with get_store().begin() as conn:
        token = create_token(conn, team=team, role=role, name=name)
    err_console.print(f"token for {name} ({team}/{role}); store it now, it is not shown again:")
    sys.stdout.write(token + "\n")


@token_app.command("revoke")
@operator_errors
def token_revoke(token: str = typer.Option(..., prompt=True, hide_input=True, help="The token to revoke.")) -> None:
    """Revoke a token (it stops working at once)."""
    with get_store().begin() as conn:
        ok = revoke_token(conn, token)
    if not ok:
        raise ConfigError("no active token matches")
    console.print("revoked")


@token_app.command("list")
@operator_errors
def token_list(as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")) -> None:
    """List tokens (names, teams, roles; never the tokens themselves)."""
    with get_store().begin() as conn:
        rows = conn.execute(select(api_tokens.c.name, api_tokens.c.team, api_tokens.c.role,
                                   api_tokens.c.created_at, api_tokens.c.revoked_at)
                            .order_by(api_tokens.c.team, api_tokens.c.name)).all()
    docs = [{"name": r.name, "team": r.team, "role": r.role, "created_at": r.created_at,
             "revoked": r.revoked_at is not None} for r in rows]
    if as_json:
        emit_json(docs)
        return
    for d in docs:
        console.print(f"{d['team']:<12} {d['role']:<10} {d['name']:<24} {'revoked' if d['revoked'] else 'active'}")


def _read_password() -> str:
    """From a prompt (typed twice) on a terminal, else the first line of stdin (scripts)."""
    if sys.stdin.isatty():
        pw = getpass.getpass("password: ")
        if getpass.getpass("again: ") != pw:
            raise ConfigError("passwords differ")
        return pw
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
@operator_errors
def users_add(username: str = typer.Argument(..., help="Sign-in name (e.g. the handler id)."),
              team: str = typer.Option(..., help="Team id from config/teams.yaml."),
              role: str = typer.Option(..., help="handler | lead | compliance | admin."),
              display_name: str = typer.Option(None, help="Name shown in the console.")) -> None:
    """Add a console user; the password is read from the prompt or stdin, never from the command line."""
    password = _read_password()
    with get_store().begin() as conn:
        add_user(conn, username, password, team=team, role=role, display_name=display_name)
    console.print(f"user {username} added ({team}/{role})")

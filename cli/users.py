"""`hub users …`: console accounts (argon2-hashed passwords; every change ends the user's sessions)."""

from __future__ import annotations

import getpass
import sys

import typer

from cli.common import console, emit_json, operator_errors
from core.errors import ConfigError
from hub.backoffice.users import add_user, list_users, reset_password, set_disabled, set_team_role
from hub.store import get_store

app = typer.Typer(help="Web console users (argon2-hashed passwords).", no_args_is_help=True)
ACTOR = "operator:cli"


def _read_password() -> str:
    """From a prompt (typed twice) on a terminal, else the first line of stdin (scripts)."""
    if sys.stdin.isatty():
        pw = getpass.getpass("password: ")
        if getpass.getpass("again: ") != pw:
            raise ConfigError("passwords differ")
        return pw
    return sys.stdin.readline().rstrip("\r\n")


@app.command("add")
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


@app.command("list")
@operator_errors
def users_list(as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")) -> None:
    """Every console user: name, team, role, enabled or disabled (never a password hash)."""
    with get_store().begin() as conn:
        docs = list_users(conn)
    if as_json:
        emit_json(docs)
        return
    for d in docs:
        console.print(f"{d['team']:<12} {d['role']:<10} {d['username']:<24} {'disabled' if d['disabled'] else 'enabled'}")


@app.command("disable")
@operator_errors
def users_disable(username: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Disable a user: their sessions end at once, sign-in is refused."""
    with get_store().begin() as conn:
        set_disabled(conn, username, True, actor=ACTOR)
    console.print(f"user {username} disabled")


@app.command("enable")
@operator_errors
def users_enable(username: str = typer.Argument(..., help="The user to enable again.")) -> None:
    """Enable a disabled user (they sign in again)."""
    with get_store().begin() as conn:
        set_disabled(conn, username, False, actor=ACTOR)
    console.print(f"user {username} enabled")


@app.command("set-role")
@operator_errors
def users_set_role(username: str = typer.Argument(..., help="The user to change."),
                   role: str = typer.Option(..., help="handler | lead | compliance | admin."),
                   team: str = typer.Option(None, help="A new team (default: keep the current one).")) -> None:
    """Change a user's role (and team); their sessions end, the next sign-in carries the new role."""
    with get_store().begin() as conn:
        current = {d["username"]: d for d in list_users(conn)}.get(username)
        if current is None:
            raise ConfigError(f"no user {username!r}")
        set_team_role(conn, username, team=team or current["team"], role=role, actor=ACTOR)
    console.print(f"user {username}: {team or current['team']}/{role}")


@app.command("reset-password")
@operator_errors
def users_reset_password(username: str = typer.Argument(..., help="The user whose password is set.")) -> None:
    """Set a new password (prompt or stdin); the user's sessions end."""
    password = _read_password()
    with get_store().begin() as conn:
        reset_password(conn, username, password, actor=ACTOR)
    console.print(f"password of {username} reset")

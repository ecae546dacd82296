"""Console users: username + argon2 password hash in `users`, each in one team with one role.

A signed-in session names the user's `session_version`; every change that must end the
user's sessions (sign-out, disable, team or role change, new password) bumps it, and the
console checks it on every request (`session_user`), so the change holds from the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, select, update

from core.errors import ConfigError
from core.schema import utcnow
from hub.backoffice.audit import audit
from hub.backoffice.auth import check_team_role
from hub.store.tables import users

_hasher = PasswordHasher()
# Verified against when the user is unknown, so "no such user" and "wrong password" take as long.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    """A console user as stored in `users`: username, team, role, display name (no password)."""

    username: str
    team: str
    role: str
    display_name: str | None = None
    session_version: int = 0


def add_user(conn: Connection, username: str, password: str, *, team: str, role: str,
             display_name: str | None = None) -> User:
    """Create a console user (argon2id hash); refuses a duplicate, a short password, bad team/role."""
    check_team_role(team, role)
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise ConfigError("username must be 1-80 characters without spaces")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password must have at least {MIN_PASSWORD} characters")
    if conn.execute(select(users.c.username).where(users.c.username == username)).first():
        raise ConfigError(f"user {username!r} exists")
    conn.execute(users.insert().values(username=username, password_hash=_hasher.hash(password),
                                       display_name=display_name, team=team, role=role,
                                       created_at=utcnow(), disabled=False))
    audit(conn, actor="operator:cli", kind="user_added", subject=f"user:{username}", team=team, role=role)
    return User(username=username, team=team, role=role, display_name=display_name)


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """The user when the password matches and the account is enabled; None otherwise."""
    row = conn.execute(select(users).where(users.c.username == username)).one_or_none() if username else None
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):  # parameters were raised since: upgrade quietly
        conn.execute(update(users).where(users.c.username == username)
                     .values(password_hash=_hasher.hash(password)))
    return User(username=row.username, team=row.team, role=row.role, display_name=row.display_name,
                session_version=row.session_version)


def session_user(conn: Connection, username: str | None, version: int) -> User | None:
    """The user a session stands for, if the account is enabled and the session's version is current."""
    if not username:
        return None
    row = conn.execute(select(users).where(users.c.username == username)).one_or_none()
    if row is None or row.disabled or row.session_version != version:
        return None
    return User(username=row.username, team=row.team, role=row.role, display_name=row.display_name,
                session_version=row.session_version)


def _change(conn: Connection, username: str, actor: str, kind: str, values: dict[str, Any],
            **data: Any) -> None:
    """Apply `values` to the user, end their sessions (version + 1) and audit it; ConfigError if unknown."""
    res = conn.execute(update(users).where(users.c.username == username)
                       .values(session_version=users.c.session_version + 1, **values))
    if not res.rowcount:
        raise ConfigError(f"no user {username!r}")
    audit(conn, actor=actor, kind=kind, subject=f"user:{username}", **data)


def end_sessions(conn: Connection, username: str, *, actor: str, why: str = "logout") -> None:
    """Sign the user out everywhere (a copied cookie stops working too)."""
    _change(conn, username, actor, why, {})


def set_disabled(conn: Connection, username: str, disabled: bool, *, actor: str) -> None:
    """Disable (sessions end at once) or enable a user."""
    _change(conn, username, actor, "user_disabled" if disabled else "user_enabled", {"disabled": disabled})


def set_team_role(conn: Connection, username: str, *, team: str, role: str, actor: str) -> None:
    """Move a user to another team and/or role; their sessions end."""
    check_team_role(team, role)
    _change(conn, username, actor, "user_role_changed", {"team": team, "role": role}, team=team, role=role)


def reset_password(conn: Connection, username: str, password: str, *, actor: str) -> None:
    """Set a new password (same rules as `add_user`); the user's sessions end."""
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password must have at least {MIN_PASSWORD} characters")
    _change(conn, username, actor, "user_password_reset", {"password_hash": _hasher.hash(password)})


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user (no password hash): name, team, role, disabled, created."""
    rows = conn.execute(select(users.c.username, users.c.display_name, users.c.team, users.c.role,
                               users.c.disabled, users.c.created_at).order_by(users.c.team, users.c.username))
    return [dict(r._mapping) for r in rows]

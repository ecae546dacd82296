"""Console users: username + argon2 password hash in `users`, each in one team with one role."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, select, update

from core.errors import ConfigError
from core.schema import utcnow
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
    return User(username=row.username, team=row.team, role=row.role, display_name=row.display_name)

"""Who is calling: team-scoped API tokens (stored hashed) and the roles they carry.

A token is a random string shown once at creation; the store keeps only its
SHA-256 (a random 256-bit token needs no slow hash: there is nothing to guess).
Every principal belongs to exactly one team and only ever sees that team's
tickets; the role decides what it may do inside the team.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, select, update

from core.errors import ConfigError
from core.schema import utcnow
from hub.backoffice.audit import audit
from hub.backoffice.roles import may
from hub.store.tables import api_tokens
from hub.teams import get_teams

Role = Literal["handler", "lead", "compliance", "admin"]
ROLES: tuple[str, ...] = ("handler", "lead", "compliance", "admin")

# What each role may do is the one matrix in `hub.backoffice.roles` (docs/roles.md prints it).

TOKEN_PREFIX = "hub_"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a name inside one team, with one role."""

    name: str
    team: str
    role: str
    via: Literal["token", "session"] = "token"

    @property
    def actor(self) -> str:
        """The actor string written on timeline events (`lead:lead.cards`)."""
        return f"{self.role}:{self.name}"[:80]

    @property
    def may_reveal(self) -> bool:
        """Whether the role may ask to see personal data in clear (always audited)."""
        return may("reveal", self.role)

    @property
    def may_act(self) -> bool:
        """Whether the role may change tickets at all (accept, reply, resolve; see the role matrix)."""
        return may("resolve", self.role)

    @property
    def may_note(self) -> bool:
        """Whether the role may add internal notes."""
        return may("note", self.role)

    @property
    def may_approve(self) -> bool:
        """Whether the role may approve a regulatory extension (leads only)."""
        return may("approve_extension", self.role)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token: what the `api_tokens` table stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_team_role(team: str, role: str) -> None:
    """Refuse an unknown team (per teams.yaml) or role with a message that says what is valid."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    get_teams().team(team)  # raises ConfigError naming the known teams


#: a token's public id: the start of its hash (listing and revoking by id never needs the secret)
TOKEN_ID_LEN = 12
#: how often a token's `last_used_at` is written at most (one write per request would be wasteful)
LAST_USED_EVERY = timedelta(minutes=1)


def create_token(conn: Connection, *, team: str, role: str, name: str, now: datetime | None = None,
                 expires_in: timedelta | None = None) -> str:
    """Make a new API token for `name` in `team` with `role`; returns the clear token (shown once)."""
    check_team_role(team, role)
    if not name or len(name) > 80:
        raise ConfigError("token name must be 1-80 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    conn.execute(api_tokens.insert().values(token_hash=hash_token(token), name=name, team=team, role=role,
                                            created_at=now, revoked_at=None,
                                            expires_at=now + expires_in if expires_in else None))
    audit(conn, actor="operator:cli", kind="token_created", subject=f"token:{hash_token(token)[:TOKEN_ID_LEN]}",
          name=name, team=team, role=role)
    return token


def list_tokens(conn: Connection) -> list[dict[str, Any]]:
    """Every token by id (never the token): name, team, role, created, expires, last used, revoked."""
    rows = conn.execute(select(api_tokens).order_by(api_tokens.c.team, api_tokens.c.name)).all()
    return [{"id": r.token_hash[:TOKEN_ID_LEN], "name": r.name, "team": r.team, "role": r.role,
             "created_at": r.created_at, "expires_at": r.expires_at, "last_used_at": r.last_used_at,
             "revoked_at": r.revoked_at} for r in rows]


def revoke_tokens(conn: Connection, *, name: str | None = None, token_id: str | None = None,
                  actor: str = "operator:cli") -> int:
    """Revoke the active tokens with this name, or the one with this id; how many were revoked."""
    if bool(name) == bool(token_id):
        raise ConfigError("give exactly one of --name or --id")
    q = update(api_tokens).where(api_tokens.c.revoked_at.is_(None))
    if token_id:
        if len(token_id) < 8 or any(c not in "0123456789abcdef" for c in token_id):
            raise ConfigError("a token id is at least 8 hex characters (see `hub api token list`)")
        q = q.where(api_tokens.c.token_hash.startswith(token_id, autoescape=True))
    else:
        q = q.where(api_tokens.c.name == name)
    n = int(conn.execute(q.values(revoked_at=utcnow())).rowcount or 0)
    audit(conn, actor=actor, kind="token_revoked", subject=f"token:{token_id or name}", count=n)
    return n


def revoke_token(conn: Connection, token: str) -> bool:
    """Revoke a token; True when it existed and was active."""
    res = conn.execute(update(api_tokens).where(api_tokens.c.token_hash == hash_token(token),
                                                api_tokens.c.revoked_at.is_(None)).values(revoked_at=utcnow()))
    return bool(res.rowcount)


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    """The principal a clear token stands for, or None (unknown, revoked, malformed)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == hash_token(token))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        conn.execute(update(api_tokens).where(api_tokens.c.token_hash == row.token_hash).values(last_used_at=now))
    return Principal(name=row.name, team=row.team, role=row.role, via="token")

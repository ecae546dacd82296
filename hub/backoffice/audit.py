"""Access events that belong to no ticket: sign-in, sign-out, lockout, user and token changes.

Ticket events (reveals, actions) stay on the ticket's timeline; these go to `audit_log`.
Names of people appear as they are (user names are staff ids); no secret, password or
token is ever written here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from core.pii import scrub_text
from core.schema import utcnow
from hub.store.tables import audit_log


def audit(conn: Connection, *, actor: str, kind: str, subject: str, **data: Any) -> None:
    """Write one access event (in the caller's transaction)."""
    conn.execute(audit_log.insert().values(at=utcnow(), actor=actor[:80], kind=kind[:40],
                                           subject=scrub_text(subject)[:120], data=data))


def recent(conn: Connection, *, kind: str | None = None, subject: str | None = None,
           limit: int = 100) -> list[dict[str, Any]]:
    """The newest access events first (optionally of one kind or subject)."""
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if kind:
        q = q.where(audit_log.c.kind == kind)
    if subject:
        q = q.where(audit_log.c.subject == subject)
    return [dict(r._mapping) for r in conn.execute(q)]

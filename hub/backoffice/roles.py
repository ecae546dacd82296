"""Who may do what to a ticket of their own team: the one role matrix the server enforces.

The table below is the rule; `docs/roles.md` prints the same table for operators
and `tests/security/test_roles.py` reads it from there and drives the API and the
console with every cell (on SQLite and PostgreSQL). A cell says on which tickets
of the caller's team the role may act:

- `any`: every ticket of the team;
- `own`: tickets assigned to the caller (the handler id is the caller's name);
- `free_or_own`: unassigned tickets (taken for the caller) and the caller's own;
- `-`: never (403).

Another team's ticket is always 404, before any role check (`hub.backoffice.queries`).
"""

from __future__ import annotations

from typing import Literal

from core.errors import ActionError

Scope = Literal["any", "own", "free_or_own"]

#: action → role → scope (None: refused). `assign` is `accept` naming another handler;
#: `manage_users` is the CLI's `hub users …` / `hub api token …` (operators with the admin role).
MATRIX: dict[str, dict[str, Scope | None]] = {
    "read":              {"handler": "any", "lead": "any", "compliance": "any", "admin": "any"},
    "reveal":            {"handler": None, "lead": "any", "compliance": "any", "admin": None},
    "accept":            {"handler": "free_or_own", "lead": "any", "compliance": None, "admin": None},
    "assign":            {"handler": None, "lead": "any", "compliance": None, "admin": None},
    "note":              {"handler": "any", "lead": "any", "compliance": "any", "admin": None},
    "reply":             {"handler": "own", "lead": "any", "compliance": None, "admin": None},
    "resolve":           {"handler": "own", "lead": "any", "compliance": None, "admin": None},
    "request_extension": {"handler": "own", "lead": "any", "compliance": None, "admin": None},
    "transfer":          {"handler": None, "lead": "any", "compliance": None, "admin": None},
    "approve_extension": {"handler": None, "lead": "any", "compliance": None, "admin": None},
    "reclassify":        {"handler": "free_or_own", "lead": "any", "compliance": None, "admin": None},
    "compensate":        {"handler": "own", "lead": "any", "compliance": None, "admin": None},
    "approve_compensation": {"handler": None, "lead": "any", "compliance": None, "admin": None},
    "incident_reply":    {"handler": None, "lead": "any", "compliance": None, "admin": None},
    "manage_users":      {"handler": None, "lead": None, "compliance": None, "admin": "any"},
}


def scope(action: str, role: str) -> Scope | None:
    """The scope in which `role` may take `action` (None: not at all)."""
    return MATRIX.get(action, {}).get(role)


def may(action: str, role: str) -> bool:
    """Whether `role` may take `action` on at least some tickets."""
    return scope(action, role) is not None


def authorize(action: str, *, role: str, name: str, ticket_handler: str | None) -> None:
    """Raise ActionError(403) unless `role`/`name` may take `action` on a ticket held by `ticket_handler`."""
    s = scope(action, role)
    if s is None:
        raise ActionError(403, f"role {role!r} may not {action.replace('_', ' ')}")
    if s == "own" and ticket_handler != name:
        raise ActionError(403, f"only the ticket's handler (or the lead) may {action.replace('_', ' ')}; "
                               "accept it first")
    if s == "free_or_own" and ticket_handler not in (None, name):
        raise ActionError(403, "the ticket is assigned to another handler; the team lead may reassign it")

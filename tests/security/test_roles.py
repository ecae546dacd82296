"""Hole 4: the server enforces the role matrix of docs/roles.md — API and console POSTs, SQLite and PostgreSQL.

The table is read from docs/roles.md (what operators read), compared with the code's
`hub.backoffice.roles.MATRIX`, and every (action, role, ticket situation) cell is tried:
allowed cells succeed, refused ones answer 403 and change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from core.schema import Status
from core.settings import PROJECT_ROOT
from hub.backoffice.auth import create_token
from hub.backoffice.roles import MATRIX
from hub.backoffice.users import add_user
from hub.handling.actions import request_extension
from hub.handling.compensation import compensate
from hub.store.db import Store
from hub.store.tickets import get_ticket
from tests.api.seed import make_ticket, seed
from web.app import create_app
from web.server import serve_in_thread

NAMES = {"handler": "zhang.wei", "lead": "lead.cards", "compliance": "compliance.officer", "admin": "admin.cards"}
PASSWORD = "matrix-pass-42"
SITUATIONS = {"free": None, "own": "<caller>", "other": "li.na"}
#: action → (API method, path suffix, body), (console action, form)
CALLS: dict[str, tuple[tuple[str, str, dict[str, Any] | None], tuple[str, dict[str, str]] | None]] = {
    "read": (("GET", "", None), None),
    "reveal": (("GET", "?reveal=true", None), None),
    "accept": (("POST", "/accept", {}), ("accept", {})),
    "assign": (("POST", "/accept", {"handler": "wang.fang"}), ("accept", {"handler": "wang.fang"})),
    "note": (("POST", "/notes", {"note": "内部备注"}), ("note", {"note": "内部备注"})),
    "reply": (("POST", "/reply", {"text": "您好，已为您处理。"}), ("reply", {"text": "您好，已为您处理。"})),
    "resolve": (("POST", "/resolve", {"note": "n", "reply": "已为您退还年费"}),
                ("resolve", {"note": "n", "reply": "已为您退还年费"})),
    "request_extension": (("POST", "/extension", {"days": 30, "reason": "需调取录音"}),
                          ("extension", {"days": "30", "reason": "需调取录音"})),
    "transfer": (("POST", "/transfer", {"to_team": "payments", "reason": "涉及扣款"}),
                 ("transfer", {"to_team": "payments", "reason": "涉及扣款"})),
    "approve_extension": (("POST", "/extension/approve", {"approve": True}), ("approve", {"approve": "true"})),
    "reclassify": (("POST", "/reclassify", {"category": "service", "sub_category": "fees", "urgency": "urgent",
                                            "note": "改判"}),
                   ("reclassify", {"reason": "service/fees", "urgency": "urgent", "note": "改判"})),
    "compensate": (("POST", "/compensate", {"amount": "100", "reason": "退还年费"}),
                   ("compensate", {"amount": "100", "reason": "退还年费"})),
    "approve_compensation": (("POST", "/compensation/approve", {"approve": True}),
                             ("approve_compensation", {"approve": "true"})),
}


def doc_matrix() -> dict[str, dict[str, str | None]]:
    """The table of docs/roles.md as action → role → scope."""
    lines = (PROJECT_ROOT / "docs" / "roles.md").read_text(encoding="utf-8").splitlines()
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines if ln.startswith("| ")]
    header, body = rows[0], rows[1:]
    roles = header[1:5]
    return {r[0]: {role: (None if v == "-" else v) for role, v in zip(roles, r[1:5], strict=True)} for r in body}


def allowed(action: str, role: str, situation: str) -> bool:
    s = MATRIX[action][role]
    return s == "any" or (s == "own" and situation == "own") or (s == "free_or_own" and situation != "other")


def test_docs_table_is_the_code_table() -> None:
    assert doc_matrix() == MATRIX


@dataclass
class Env:
    url: str
    store: Store
    tokens: dict[str, str]


@pytest.fixture
def env(store: Store) -> Iterator[Env]:
    with store.begin() as conn:
        tokens = {role: create_token(conn, team="cards", role=role, name=name) for role, name in NAMES.items()}
        for role, name in NAMES.items():
            add_user(conn, name, PASSWORD, team="cards", role=role)
    with serve_in_thread(create_app(store)) as srv:
        yield Env(srv.url, store, tokens)


def _tickets(env: Env, prefix: str) -> dict[tuple[str, str, str], str]:
    """One fresh ticket per (action, role, situation); extension approvals have a request by li.na."""
    made, ts = {}, []
    for action in CALLS:
        for role, name in NAMES.items():
            for sit, holder in SITUATIONS.items():
                handler = name if holder == "<caller>" else holder
                t = make_ticket(f"{prefix}-{action}-{role}-{sit}", team="cards", handler=handler,
                                status=Status.ASSIGNED)
                made[(action, role, sit)] = t.ticket_id
                ts.append(t)
    seed(env.store, ts)
    with env.store.begin() as conn:
        for (action, _r, _s), tid in made.items():
            if action == "approve_extension":
                request_extension(conn, tid, actor="handler:li.na", days=10, reason="复杂")
            if action == "approve_compensation":  # above the handler's limit: waits for a lead
                compensate(conn, tid, actor="handler:li.na", amount=Decimal(900), reason="多次扣费")
    return made


def _state(env: Env, tid: str) -> tuple[Any, ...]:
    with env.store.begin() as conn:
        t = get_ticket(conn, tid)
    return t.handling.status, t.handling.team, t.handling.handler, t.updated_at


def test_api_enforces_every_cell(env: Env) -> None:
    made = _tickets(env, "API")
    wrong: list[str] = []
    for (action, role, sit), tid in made.items():
        (method, suffix, body), _ = CALLS[action]
        before = _state(env, tid)
        with httpx.Client(base_url=env.url, timeout=20,
                          headers={"Authorization": f"Bearer {env.tokens[role]}"}) as c:
            r = c.request(method, f"/api/v1/tickets/{tid}{suffix}", json=body)
        want = 200 if allowed(action, role, sit) else 403
        if r.status_code != want:
            wrong.append(f"{action} as {role} on {sit}: {r.status_code} != {want} {r.text[:100]}")
        if want == 403 and _state(env, tid) != before:
            wrong.append(f"{action} as {role} on {sit}: refused but the ticket changed")
    assert not wrong, "\n".join(wrong)


def _console(env: Env, role: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=env.url, timeout=20, follow_redirects=False)
    page = c.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = c.post("/console/login", data={"username": NAMES[role], "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 303, r.text[:200]
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/console/").text)
    return c, csrf.group(1) if csrf else ""


def test_console_posts_enforce_every_cell(env: Env) -> None:
    made = _tickets(env, "CON")
    clients = {role: _console(env, role) for role in NAMES}
    wrong: list[str] = []
    for (action, role, sit), tid in made.items():
        _, console = CALLS[action]
        if console is None:
            continue
        name, form = console
        c, csrf = clients[role]
        before = _state(env, tid)
        r = c.post(f"/console/tickets/{tid}/{name}", data={**form, "csrf": csrf})
        want = 303 if allowed(action, role, sit) else 403
        if r.status_code != want:
            wrong.append(f"{action} as {role} on {sit}: {r.status_code} != {want}")
        if want == 403 and _state(env, tid) != before:
            wrong.append(f"{action} as {role} on {sit}: refused but the ticket changed")
    for c, _ in clients.values():
        c.close()
    assert not wrong, "\n".join(wrong)

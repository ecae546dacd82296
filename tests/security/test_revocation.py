"""Hole 3: access can be revoked — sessions end on logout, disable, role/team change and a new password;
tokens are listed and revoked by name or id, expire, and record their last use; every step is audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from core.schema import utcnow
from hub.backoffice.audit import recent
from hub.backoffice.auth import create_token
from hub.backoffice.users import add_user
from hub.store.db import Store
from hub.store.tables import api_tokens
from tests.security.helpers import console_login, page_csrf
from web.app import create_app
from web.server import serve_in_thread

PW = "revocable-pass-1"


@pytest.fixture
def server(use_store: Store) -> Iterator[str]:
    with use_store.begin() as conn:
        add_user(conn, "zhang.wei", PW, team="cards", role="handler")
    with serve_in_thread(create_app(use_store)) as srv:
        yield srv.url


def _signed_in(url: str) -> tuple[httpx.Client, str]:
    c, r = console_login(url, "zhang.wei", PW)
    assert r.status_code == 303, r.text[:200]
    assert c.get("/console/").status_code == 200
    return c, c.cookies["hub_session"]


def _with_cookie(url: str, cookie: str) -> int:
    with httpx.Client(base_url=url, timeout=20, follow_redirects=False, cookies={"hub_session": cookie}) as c:
        return c.get("/console/").status_code


def test_logout_ends_every_copy_of_the_session(server: str, use_store: Store) -> None:
    c, cookie = _signed_in(server)
    assert c.post("/console/logout", data={"csrf": page_csrf(c)}).status_code == 303
    assert _with_cookie(server, cookie) == 303  # a copied cookie goes back to the sign-in page
    with use_store.begin() as conn:
        assert recent(conn, kind="logout")[0]["subject"] == "user:zhang.wei"


@pytest.mark.parametrize("command", [["users", "disable", "zhang.wei"],
                                     ["users", "set-role", "zhang.wei", "--role", "lead"],
                                     ["users", "set-role", "zhang.wei", "--role", "handler", "--team", "payments"]])
def test_operator_changes_end_sessions_at_the_next_request(server: str, use_store: Store, command) -> None:  # noqa: ANN001
    _, cookie = _signed_in(server)
    r = CliRunner().invoke(app, command)
    assert r.exit_code == 0, r.output
    assert _with_cookie(server, cookie) == 303
    with use_store.begin() as conn:
        kinds = [e["kind"] for e in recent(conn, subject="user:zhang.wei")]
    assert kinds[0] in ("user_disabled", "user_role_changed")
    if command[1] == "disable":
        _, again = console_login(server, "zhang.wei", PW)
        assert again.status_code == 401  # refused while disabled
        assert CliRunner().invoke(app, ["users", "enable", "zhang.wei"]).exit_code == 0
        _signed_in(server)
    else:  # the new role / team holds from the next sign-in
        c, _ = _signed_in(server)
        listed = CliRunner().invoke(app, ["users", "list", "--json"])
        assert listed.exit_code == 0 and ("lead" in listed.output or "payments" in listed.output)
        c.close()


def test_password_reset_ends_sessions(server: str) -> None:
    _, cookie = _signed_in(server)
    r = CliRunner().invoke(app, ["users", "reset-password", "zhang.wei"], input="another-pass-22\n")
    assert r.exit_code == 0, r.output
    assert _with_cookie(server, cookie) == 303
    assert console_login(server, "zhang.wei", PW)[1].status_code == 401
    assert console_login(server, "zhang.wei", "another-pass-22")[1].status_code == 303


def test_tokens_listed_revoked_by_name_or_id_expire_and_record_use(server: str, use_store: Store) -> None:
    runner = CliRunner()
    made = [runner.invoke(app, ["api", "token", "create", "--team", "cards", "--role", "lead", "--name", n])
            for n in ("ops-bot", "lead.cards")]
    assert all(r.exit_code == 0 for r in made)
    bot, lead = (r.stdout.strip().splitlines()[-1] for r in made)

    def me(token: str) -> int:
        return httpx.get(f"{server}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert me(bot) == 200 and me(lead) == 200
    listed = runner.invoke(app, ["api", "token", "list", "--json"])
    assert listed.exit_code == 0 and bot not in listed.output and lead not in listed.output
    with use_store.begin() as conn:
        rows = {r.name: r for r in conn.execute(select(api_tokens))}
    assert rows["ops-bot"].last_used_at is not None and rows["ops-bot"].expires_at is not None
    assert runner.invoke(app, ["api", "token", "revoke", "--name", "ops-bot"]).exit_code == 0
    assert me(bot) == 401 and me(lead) == 200
    lead_id = rows["lead.cards"].token_hash[:12]
    assert lead_id in listed.output
    assert runner.invoke(app, ["api", "token", "revoke", "--id", lead_id]).exit_code == 0
    assert me(lead) == 401
    assert runner.invoke(app, ["api", "token", "revoke", "--id", lead_id]).exit_code == 2  # nothing left
    with use_store.begin() as conn:
        old = create_token(conn, team="cards", role="lead", name="old", now=utcnow() - timedelta(days=91),
                           expires_in=timedelta(days=90))
        assert [e["kind"] for e in recent(conn, kind="token_revoked")] == ["token_revoked"] * 3
    assert me(old) == 401  # expired

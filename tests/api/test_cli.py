"""`hub api token create` and `hub users add`: the token is printed once and stored hashed; the
password comes from stdin and is stored as an argon2 hash."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from hub.backoffice.auth import hash_token, principal_for_token
from hub.backoffice.users import authenticate
from hub.store.tables import api_tokens, users


def test_token_create_and_users_add(use_store) -> None:  # noqa: ANN001
    runner = CliRunner()
    res = runner.invoke(app, ["api", "token", "create", "--team", "cards", "--role", "lead", "--name", "lead.cards"])
    assert res.exit_code == 0, res.output
    token = res.stdout.strip().splitlines()[-1]
    assert token.startswith("hub_") and len(token) > 40
    with use_store.begin() as conn:
        p = principal_for_token(conn, token)
        stored = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert p is not None and (p.team, p.role, p.name) == ("cards", "lead", "lead.cards")
    assert stored == [hash_token(token)]

    bad = runner.invoke(app, ["api", "token", "create", "--team", "nope", "--role", "lead", "--name", "x"])
    assert bad.exit_code == 2 and "unknown team" in bad.output
    bad = runner.invoke(app, ["api", "token", "create", "--team", "cards", "--role", "boss", "--name", "x"])
    assert bad.exit_code == 2 and "unknown role" in bad.output

    res = runner.invoke(app, ["users", "add", "zhang.wei", "--team", "cards", "--role", "handler"],
                        input="s3cret-password\n")
    assert res.exit_code == 0, res.output
    assert "s3cret-password" not in res.output
    with use_store.begin() as conn:
        h = conn.execute(select(users.c.password_hash)).scalar_one()
        assert h.startswith("$argon2id$")
        assert authenticate(conn, "zhang.wei", "s3cret-password") is not None
        assert authenticate(conn, "zhang.wei", "wrong") is None
        assert authenticate(conn, "nobody", "s3cret-password") is None
    short = runner.invoke(app, ["users", "add", "li.na", "--team", "cards", "--role", "handler"], input="short\n")
    assert short.exit_code == 2 and "at least 8" in short.output
    listed = runner.invoke(app, ["api", "token", "list", "--json"])
    assert listed.exit_code == 0 and token not in listed.output and '"lead.cards"' in listed.output

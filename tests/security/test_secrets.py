"""Hole 1: the published default callback tokens (and every other demo secret) work only in the sandbox mode."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from cli import app
from core.errors import InsecureSecret
from core.schema import utcnow
from core.secrets import resolve_secret
from hub.secret_check import insecure_secrets
from hub.teams import get_teams
from tests.outbox.helpers import make_ticket, put_ticket
from web.callback import create_callback_app
from web.server import serve_in_thread

REF = "env:HUB_TEAM_REGULATORY_TOKEN|demo-token-regulatory"


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The hub outside the sandbox mode (the tests otherwise run with HUB_SANDBOX=1)."""
    monkeypatch.delenv("HUB_SANDBOX", raising=False)
    return monkeypatch


def test_published_default_resolves_only_in_sandbox_mode(production: pytest.MonkeyPatch) -> None:
    production.delenv("HUB_TEAM_REGULATORY_TOKEN", raising=False)
    with pytest.raises(InsecureSecret) as exc:
        resolve_secret(REF)
    assert exc.value.variable == "HUB_TEAM_REGULATORY_TOKEN" and "HUB_TEAM_REGULATORY_TOKEN" in str(exc.value)
    production.setenv("HUB_TEAM_REGULATORY_TOKEN", "demo-token-regulatory")  # set, but to the published value
    with pytest.raises(InsecureSecret):
        resolve_secret(REF)
    production.setenv("HUB_TEAM_REGULATORY_TOKEN", "a-token-of-our-own-7f3a")
    value = resolve_secret(REF)
    assert value is not None and value.get_secret_value() == "a-token-of-our-own-7f3a"
    assert resolve_secret("env:HUB_TEAM_CARDS_WEBHOOK_SECRET|") is None  # an empty default: optional, not refused
    production.setenv("HUB_SANDBOX", "1")
    production.delenv("HUB_TEAM_REGULATORY_TOKEN")
    demo = resolve_secret(REF)
    assert demo is not None and demo.get_secret_value() == "demo-token-regulatory"


def test_insecure_secrets_names_every_published_default(production: pytest.MonkeyPatch) -> None:
    teams = get_teams().teams
    for team in teams:
        production.delenv(f"HUB_TEAM_{team.upper()}_TOKEN", raising=False)
    names = insecure_secrets()
    assert {f"HUB_TEAM_{t.upper()}_TOKEN" for t in teams} <= set(names)
    assert {"HUB_GOV12315_PASSWORD", "HUB_APP_CLIENT_SECRET", "HUB_SMS_SECRET"} <= set(names)
    assert "HUB_TEAM_CARDS_WEBHOOK_SECRET" not in names  # optional (empty default)
    for name in names:
        production.setenv(name, f"own-{name.lower()}-value")
    assert insecure_secrets() == []
    production.setenv("HUB_TEAM_CARDS_TOKEN", "demo-token-cards")
    assert insecure_secrets() == ["HUB_TEAM_CARDS_TOKEN"]


def test_api_serve_refuses_to_start_with_published_defaults(production: pytest.MonkeyPatch) -> None:
    production.delenv("HUB_TEAM_REGULATORY_TOKEN", raising=False)
    res = CliRunner().invoke(app, ["api", "serve", "--port", "1"])
    assert res.exit_code != 0
    assert "HUB_TEAM_REGULATORY_TOKEN" in res.output and "demo-token" not in res.output


def test_demo_token_cannot_resolve_a_ticket_outside_the_sandbox(use_store, production) -> None:  # noqa: ANN001
    production.delenv("HUB_TEAM_REGULATORY_TOKEN", raising=False)
    t = put_ticket(use_store, make_ticket("SEC1-REG", team="regulatory", handler="qian.bo", received=utcnow()))
    body = {"ticket_id": t.ticket_id, "status": "resolved", "note": "x", "reply": "已处理完毕"}
    with serve_in_thread(create_callback_app()) as srv, httpx.Client(timeout=10) as c:
        r = c.post(f"{srv.url}/callbacks/regulatory/status", json=body,
                   headers={"Authorization": "Bearer demo-token-regulatory"})
        assert r.status_code == 401, r.text
        production.setenv("HUB_TEAM_REGULATORY_TOKEN", "reg-token-from-the-vault-91c2")
        ok = c.post(f"{srv.url}/callbacks/regulatory/status", json=body,
                    headers={"Authorization": "Bearer reg-token-from-the-vault-91c2"})
        assert ok.status_code == 200, ok.text

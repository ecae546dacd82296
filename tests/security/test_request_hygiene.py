"""Hole 7: body limit, no echo of input, invalid unicode, strict types, http(s) attachments, HSTS, spec URL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from core.configfile import reload_config
from core.schema import Attachment
from hub.backoffice.auth import create_token
from hub.pipeline.normalise import normalise_pending
from hub.store import landing
from hub.store import quarantine as q
from hub.store.db import Store
from tests.api.seed import make_ticket, seed
from tests.mapping.helpers import raw, samples
from web.app import create_app
from web.server import serve_in_thread

PII = "13812345678"
IDN = "330102199001011234"


@pytest.fixture
def srv(sqlite_store: Store) -> Iterator[tuple[httpx.Client, str, Store]]:
    (tid,) = seed(sqlite_store, [make_ticket("HYG-1", team="cards", handler="zhang.wei")])
    with sqlite_store.begin() as conn:
        token = create_token(conn, team="cards", role="lead", name="lead.cards")
    with serve_in_thread(create_app(sqlite_store)) as s, \
            httpx.Client(base_url=s.url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c, tid, sqlite_store


def test_oversized_body_is_413_and_not_echoed(srv) -> None:  # noqa: ANN001
    c, tid, _ = srv
    big = json.dumps({"note": "备" * (1024 * 1024)})  # ~3 MiB of UTF-8
    r = c.post(f"/api/v1/tickets/{tid}/notes", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and len(r.content) < 1000

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"note": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    r = c.post(f"/api/v1/tickets/{tid}/notes", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and len(r.content) < 1000
    ok = c.post(f"/api/v1/tickets/{tid}/notes", json={"note": "x" * 3000})
    assert ok.status_code == 200, ok.text


def test_validation_errors_never_echo_input(srv) -> None:  # noqa: ANN001
    c, tid, _ = srv
    r = c.post(f"/api/v1/tickets/{tid}/notes", json={"note": f"客户电话{PII}" * 400, f"k{PII}": IDN})
    assert r.status_code == 422
    assert PII not in r.text and IDN not in r.text and "input" not in r.json()["detail"][0]
    assert r.json()["detail"][0]["loc"][0] == "body"
    r = c.post(f"/api/v1/tickets/{tid}/extension", json={"days": f"{PII}", "reason": f"身份证{IDN}"})
    assert r.status_code == 422 and PII not in r.text and IDN not in r.text
    cb = c.post("/callbacks/cards/status", json={"ticket_id": tid, "status": f"x{PII}"},
                headers={"Authorization": "Bearer demo-token-cards"})
    assert cb.status_code == 422 and PII not in cb.text


@pytest.mark.parametrize("path,field", [("notes", "note"), ("reply", "text"), ("resolve", "reply"),
                                        ("transfer", "reason")])
def test_lone_surrogate_is_422(srv, path: str, field: str) -> None:  # noqa: ANN001
    c, tid, _ = srv
    body = {"note": "a", "text": "a", "reply": "a", "to_team": "payments", "reason": "a"}
    body = {k: v for k, v in body.items() if k in {"notes": ["note"], "reply": ["text"], "resolve": ["note", "reply"],
                                                    "transfer": ["to_team", "reason"]}[path]}
    raw_body = json.dumps(body).replace(f'"{field}": "a"', f'"{field}": "\\ud800"')
    r = c.post(f"/api/v1/tickets/{tid}/{path}", content=raw_body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    bad_utf8 = c.post(f"/api/v1/tickets/{tid}/{path}", content=b'{"' + field.encode() + b'": "\xff\xfe"}',
                      headers={"Content-Type": "application/json"})
    assert bad_utf8.status_code == 422


def test_invalid_utf8_in_url_is_not_a_server_error(srv) -> None:  # noqa: ANN001
    c, tid, _ = srv
    for url in ("/api/v1/queue?status=%ED%A0%80", "/api/v1/queue?source=%FF", f"/api/v1/tickets/{tid}%ED%A0%80",
                "/api/v1/tickets/%ED%A0%80/notes"):
        r = c.request("POST" if url.endswith("notes") else "GET", url, json={"note": "x"})
        assert r.status_code in (404, 422), (url, r.status_code)


def test_strict_booleans_and_integers(srv) -> None:  # noqa: ANN001
    c, tid, _ = srv
    assert c.post(f"/api/v1/tickets/{tid}/extension", json={"days": True, "reason": "r"}).status_code == 422
    assert c.post(f"/api/v1/tickets/{tid}/extension", json={"days": "30", "reason": "r"}).status_code == 422
    r = c.post(f"/api/v1/tickets/{tid}/resolve", json={"reply": "已为您处理完毕", "settled": "yes"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "settled"]
    assert c.post(f"/api/v1/tickets/{tid}/extension/approve", json={"approve": 1}).status_code == 422
    assert c.post(f"/api/v1/tickets/{tid}/extension", json={"days": 30, "reason": "r"}).status_code == 200


def test_attachments_only_http_and_shown_as_safe_links(sqlite_store: Store) -> None:
    for bad in ("javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "JaVaScRiPt:x", "//evil.example/x",
                "ftp://x/y", "java\nscript:alert(1)", " javascript:x", "https://"):
        with pytest.raises(ValidationError):
            Attachment(name="a", ref=bad)
    assert Attachment(name="a", ref="https://files.example/a.png").ref == "https://files.example/a.png"
    assert Attachment(name="a", ref="/files/123/1").ref == "/files/123/1"  # a path at the source
    p = samples("app")[0]
    p["attachments"] = [{"name": "截图", "url": "javascript:alert(document.cookie)"}]
    landing.land(sqlite_store, "app", [raw("app", p)], None)
    normalise_pending(sqlite_store)
    with sqlite_store.begin() as conn:
        entries = q.list_open(conn, "app")
    assert len(entries) == 1 and "http(s)" in str(entries[0].reason)


def test_console_links_only_http_attachments(sqlite_store: Store) -> None:
    from core.schema import Attachment as A
    from hub.backoffice.users import add_user
    from tests.security.helpers import console_login

    t = make_ticket("HYG-ATT", team="cards", handler="zhang.wei")
    t.matter.attachments = [A(name="截图", ref="https://files.example/a.png"), A(name="单据", ref="/files/9/1")]
    seed(sqlite_store, [t])
    with sqlite_store.begin() as conn:
        add_user(conn, "zhang.wei", "attach-pass-1", team="cards", role="handler")
    with serve_in_thread(create_app(sqlite_store)) as s:
        c, r = console_login(s.url, "zhang.wei", "attach-pass-1")
        page = c.get(f"/console/tickets/{t.ticket_id}").text
    assert '<a href="https://files.example/a.png" rel="noopener noreferrer nofollow"' in page
    assert 'href="/files/9/1"' not in page and "单据" in page


def test_hsts_only_over_https_from_a_trusted_proxy(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_in_thread(create_app(sqlite_store)) as s, httpx.Client(base_url=s.url, timeout=20) as c:
        assert "strict-transport-security" not in c.get("/healthz").headers
        spoofed = c.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in spoofed.headers  # loopback is not a proxy unless configured
        monkeypatch.setenv("HUB_TRUSTED_PROXIES", "127.0.0.1")
        reload_config()
        try:
            behind = c.get("/healthz", headers={"X-Forwarded-Proto": "https"})
            assert behind.headers["strict-transport-security"].startswith("max-age=")
        finally:
            monkeypatch.delenv("HUB_TRUSTED_PROXIES")
            reload_config()


def test_openapi_url_is_configurable(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_OPENAPI_URL", "")
    reload_config()
    try:
        with serve_in_thread(create_app(sqlite_store)) as s:
            assert httpx.get(f"{s.url}/openapi.json").status_code == 404
    finally:
        monkeypatch.delenv("HUB_OPENAPI_URL")
        reload_config()
    with serve_in_thread(create_app(sqlite_store)) as s:
        assert httpx.get(f"{s.url}/openapi.json").status_code == 200


def test_a_ticket_stored_with_an_unsafe_reference_before_the_check_still_loads(sqlite_store: Store) -> None:
    """Rows written before references were checked are not lost: the link is defused, the text kept."""
    from sqlalchemy import select, update

    from hub.store.tables import tickets as tickets_t
    from hub.store.tickets import UNSAFE_REF, get_ticket, upsert_tickets
    from tests.api.seed import make_ticket

    t = make_ticket("OLD-ref", team="cards")
    with sqlite_store.begin() as conn:
        upsert_tickets(conn, [t])
        data = dict(conn.execute(select(tickets_t.c.data).where(tickets_t.c.ticket_id == t.ticket_id)).scalar())
        data["matter"] = {**data["matter"], "attachments": [{"name": "截图", "ref": "javascript:alert(1)"}]}
        conn.execute(update(tickets_t).where(tickets_t.c.ticket_id == t.ticket_id).values(data=data))
    with sqlite_store.begin() as conn:
        back = get_ticket(conn, t.ticket_id)
    assert back is not None
    a = back.matter.attachments[0]
    assert a.ref == UNSAFE_REF and "javascript:alert(1)" in a.name

"""App backend over real HTTP: OAuth2 tokens, cursor feed, idempotent writes, faults."""

from __future__ import annotations

import time

import httpx
import pytest

from sandbox import CREDENTIALS

CREDS = CREDENTIALS["app"]


def token(base: str, client: httpx.Client) -> str:
    r = client.post(f"{base}/oauth/token", data={"grant_type": "client_credentials", **CREDS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return body["access_token"]


def feed(base: str, client: httpx.Client, tok: str, **params: object) -> tuple[list[dict], str]:
    items: list[dict] = []
    cursor = None
    while True:
        q = dict(params) | ({"cursor": cursor} if cursor else {})
        r = client.get(f"{base}/complaints", params=q, headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return items, cursor


def test_token_errors_and_expiry(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=10, faults={"app": {"session_ttl": 1}})
    base = sb.urls["app"]
    with httpx.Client() as c:
        assert c.post(f"{base}/oauth/token", data={"grant_type": "client_credentials", "client_id": "hub-demo",
                                                   "client_secret": "wrong"}).json()["error"] == "invalid_client"
        assert c.post(f"{base}/oauth/token", data={"grant_type": "password", **CREDS}).status_code == 400
        r = c.get(f"{base}/complaints")
        assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
        basic = c.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(CREDS["client_id"], CREDS["client_secret"]))
        assert basic.status_code == 200
        tok = token(base, c)
        assert c.get(f"{base}/complaints", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
        time.sleep(1.1)
        r = c.get(f"{base}/complaints", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 401 and r.json()["error_description"] == "token expired"
        tok = token(base, c)
        sb.expire_sessions("app")
        assert c.get(f"{base}/complaints", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_cursor_feed_is_complete_ordered_and_resumable(sandbox) -> None:
    base = sandbox.urls["app"]
    with httpx.Client() as c:
        tok = token(base, c)
        items, cursor = feed(base, c, tok, limit=3)
        expected = {r["id"] for r in sandbox.records("app") if "id" in r}
        got = [i["id"] for i in items if "id" in i]
        assert set(got) == expected and len(got) == len(expected)  # every record exactly once
        keys = [(i["updated_at"], i.get("id", "")) for i in items]
        assert keys == sorted(keys)
        stamps = [i["updated_at"] for i in items]
        assert max(stamps.count(s) for s in stamps) >= 3  # records sharing one updated_at exist
        # Nothing new: an empty page that echoes the cursor.
        r = c.get(f"{base}/complaints", params={"cursor": cursor}, headers={"Authorization": f"Bearer {tok}"})
        assert r.json() == {"items": [], "next_cursor": cursor, "has_more": False}
        sandbox.generate(4, "app")
        new, _ = feed(base, c, tok, cursor=cursor)
        assert len(new) == 4
        assert c.get(f"{base}/complaints", params={"cursor": "!!"},
                     headers={"Authorization": f"Bearer {tok}"}).status_code == 400
        since = c.get(f"{base}/complaints", params={"updated_since": new[0]["updated_at"], "limit": 200},
                      headers={"Authorization": f"Bearer {tok}"}).json()["items"]
        assert {i["id"] for i in new} <= {i["id"] for i in since}


def test_reply_honours_idempotency_key_and_refuses_withdrawn(sandbox) -> None:
    base = sandbox.urls["app"]
    target = next(r["id"] for r in sandbox.records("app") if r.get("id") and r["status"] == "open")
    with httpx.Client() as c:
        h = {"Authorization": f"Bearer {token(base, c)}"}
        body = {"status": "replied", "reply": "您好，已为您处理"}
        first = c.post(f"{base}/complaints/{target}/reply", json=body, headers=h | {"Idempotency-Key": "k1"})
        again = c.post(f"{base}/complaints/{target}/reply", json=body, headers=h | {"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
        other = c.post(f"{base}/complaints/{target}/reply", json={"status": "closed"}, headers=h | {"Idempotency-Key": "k1"})
        assert other.status_code == 422
        assert len(sandbox.writes("app")) == 1
        assert c.get(f"{base}/complaints/{target}", headers=h).json()["status"] == "replied"
        assert c.post(f"{base}/complaints/{target}/reply", json={"status": "bogus"}, headers=h).status_code == 422
        wid = sandbox.inject("app", {"status": "withdrawn"})
        r = c.post(f"{base}/complaints/{wid}/reply", json=body, headers=h)
        assert r.status_code == 409 and r.json()["error"] == "complaint_withdrawn"
        assert c.get(f"{base}/complaints/nope", headers=h).status_code == 404
        assert len(sandbox.writes("app")) == 1


def test_faults_errors_throttle_duplicates_latency(sandbox) -> None:
    base = sandbox.urls["app"]
    with httpx.Client() as c:
        h = {"Authorization": f"Bearer {token(base, c)}"}
        sandbox.set_faults("app", error_rate=1.0, error_codes=[503])
        r = c.get(f"{base}/complaints", headers=h)
        assert r.status_code == 503 and r.json()["error"] == "server_error"
        sandbox.set_faults("app", error_rate=0.0, throttle_next=2, retry_after=7)
        codes = [c.get(f"{base}/complaints", headers=h) for _ in range(3)]
        assert [x.status_code for x in codes] == [429, 429, 200]
        assert codes[0].headers["retry-after"] == "7"
        sandbox.set_faults("app", duplicate_rate=1.0)
        items = c.get(f"{base}/complaints", params={"limit": 5}, headers=h).json()["items"]
        assert len(items) == 10 and items[0] == items[1]
        sandbox.set_faults("app", duplicate_rate=0.0, latency_ms=300)
        t0 = time.perf_counter()
        assert c.get(f"{base}/complaints", headers=h).status_code == 200
        assert time.perf_counter() - t0 >= 0.3
        # Admin routes are never faulted.
        sandbox.set_faults("app", latency_ms=0, error_rate=1.0)
        assert c.get(f"{base}/__admin/health").status_code == 200


def test_hung_request_times_out_client_and_does_not_block_stop(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=5, faults={"app": {"hang_rate": 1.0, "hang_seconds": 30}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sb.urls['app']}/oauth/token", data={"grant_type": "client_credentials", **CREDS}, timeout=0.5)
    t0 = time.perf_counter()
    sb.stop()
    assert time.perf_counter() - t0 < 2.5


def test_openapi_published(module_sandbox) -> None:
    doc = httpx.get(f"{module_sandbox.urls['app']}/openapi.json").json()
    assert "/complaints" in doc["paths"] and "/complaints/{cid}/reply" in doc["paths"]

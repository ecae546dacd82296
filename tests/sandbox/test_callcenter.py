"""Call-centre work orders over real HTTP: own HMAC scheme, shifting offset pages, updates."""

from __future__ import annotations

import json
import re
import time

import httpx

from sandbox.systems.callcenter import sign_headers


def call(c: httpx.Client, method: str, url: str, *, body: dict | None = None, params: dict | None = None,
         **kw: object) -> httpx.Response:
    content = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    req = c.build_request(method, url, params=params, content=content or None)
    req.headers.update(sign_headers(method, req.url.raw_path.decode(), content, **kw))
    return c.send(req)


def test_signature(module_sandbox) -> None:
    base = module_sandbox.urls["callcenter"]
    with httpx.Client() as c:
        assert call(c, "GET", f"{base}/api/workorders").json()["code"] == 0
        r = call(c, "GET", f"{base}/api/workorders", app_secret="bad")
        assert r.status_code == 401 and r.json()["msg"] == "签名错误"
        r = call(c, "GET", f"{base}/api/workorders", ts_ms=int(time.time() * 1000) - 301_000)
        assert r.status_code == 401 and r.json()["msg"] == "请求已过期"
        assert call(c, "GET", f"{base}/api/workorders", app_id="x").json()["msg"] == "appId不存在"


def test_pages_newest_first_and_shift_when_orders_arrive(sandbox) -> None:
    base = sandbox.urls["callcenter"]
    with httpx.Client() as c:
        p1 = call(c, "GET", f"{base}/api/workorders", params={"page": 1, "size": 3}).json()["data"]
        created = [o["created"] for o in p1["list"]]
        assert created == sorted(created, reverse=True)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", o["updated"]) for o in p1["list"] if o.get("order_no"))
        p2 = call(c, "GET", f"{base}/api/workorders", params={"page": 2, "size": 3}).json()["data"]
        sandbox.advance(1)
        sandbox.generate(2, "callcenter")
        p2_after = call(c, "GET", f"{base}/api/workorders", params={"page": 2, "size": 3}).json()["data"]
        assert p2_after["total"] == p2["total"] + 2
        # The two newest of old page 1 are now on page 2: records shifted.
        assert p2_after["list"][0] == p1["list"][1] and p2_after["list"][1] == p1["list"][2]


def test_update_recorded_and_revoked_refused(sandbox) -> None:
    base = sandbox.urls["callcenter"]
    order = next(o["order_no"] for o in sandbox.records("callcenter") if o.get("order_no") and o["status"] in ("10", "20"))
    with httpx.Client() as c:
        r = call(c, "POST", f"{base}/api/workorders/{order}/update", body={"status": "30", "result": "已回电解释", "operator": "hub"})
        assert r.status_code == 200 and r.json()["data"]["status"] == "30"
        assert call(c, "GET", f"{base}/api/workorders/{order}").json()["data"]["result"] == "已回电解释"
        assert call(c, "POST", f"{base}/api/workorders/{order}/update", body={"status": "99"}).json()["code"] == 4001
        revoked = sandbox.inject("callcenter", {"status": "90"})
        r = call(c, "POST", f"{base}/api/workorders/{revoked}/update", body={"status": "40"})
        assert r.status_code == 409 and r.json()["code"] == 4009
        assert call(c, "GET", f"{base}/api/workorders/WO0").status_code == 404
    w = sandbox.writes("callcenter")
    assert len(w) == 1 and w[0]["external_id"] == order and w[0]["data"]["status"] == "30"

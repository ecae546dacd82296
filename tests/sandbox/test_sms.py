"""SMS gateway over real HTTP: signatures, replay/stale refusal, non-idempotent send, MO and reports."""

from __future__ import annotations

import json
import time

import httpx

from sandbox.systems.sms import sign_headers


def call(c: httpx.Client, method: str, url: str, *, body: dict | None = None, params: dict | None = None,
         **sign_kw: object) -> httpx.Response:
    content = json.dumps(body).encode() if body is not None else b""
    req = c.build_request(method, url, params=params, content=content or None,
                          headers={"Content-Type": "application/json"} if body is not None else None)
    req.headers.update(sign_headers(method, req.url.raw_path.decode(), content, **sign_kw))
    return c.send(req)


def test_signature_checks(module_sandbox) -> None:
    base = module_sandbox.urls["sms"]
    with httpx.Client() as c:
        assert call(c, "GET", f"{base}/v1/sms/mo", params={"limit": 2}).status_code == 200
        assert httpx.get(f"{base}/v1/sms/mo").json()["code"] == "isv.MISSING_SIGNATURE"
        r = call(c, "GET", f"{base}/v1/sms/mo", secret="wrong")
        assert r.status_code == 401 and r.json()["code"] == "isv.SIGNATURE_DOES_NOT_MATCH"
        r = call(c, "GET", f"{base}/v1/sms/mo", access_key="nobody")
        assert r.json()["code"] == "isv.INVALID_ACCESS_KEY"
        r = call(c, "GET", f"{base}/v1/sms/mo", timestamp=int(time.time()) - 301)
        assert r.status_code == 401 and r.json()["code"] == "isv.REQUEST_EXPIRED"
        assert call(c, "GET", f"{base}/v1/sms/mo", nonce="n-fixed").status_code == 200
        r = call(c, "GET", f"{base}/v1/sms/mo", nonce="n-fixed")
        assert r.status_code == 401 and r.json()["code"] == "isv.NONCE_REPLAYED"
        # The query string is signed: a tampered query fails.
        req = c.build_request("GET", f"{base}/v1/sms/mo", params={"limit": 1})
        req.headers.update(sign_headers("GET", "/v1/sms/mo?limit=2"))
        assert c.send(req).json()["code"] == "isv.SIGNATURE_DOES_NOT_MATCH"


def test_send_is_not_idempotent_and_can_be_queried(sandbox) -> None:
    base = sandbox.urls["sms"]
    msg = {"mobile": "13900001111", "template_code": "SMS_NOTICE", "params": {"ticket": "T1", "hours": 4}, "out_id": "o-1"}
    with httpx.Client() as c:
        assert call(c, "GET", f"{base}/v1/sms/sends", params={"out_id": "o-1"}).json()["items"] == []
        a = call(c, "POST", f"{base}/v1/sms/send", body=msg).json()
        b = call(c, "POST", f"{base}/v1/sms/send", body=msg).json()
        assert a["code"] == b["code"] == "OK" and a["biz_id"] != b["biz_id"]
        sent = call(c, "GET", f"{base}/v1/sms/sends", params={"out_id": "o-1"}).json()["items"]
        assert [s["biz_id"] for s in sent] == [a["biz_id"], b["biz_id"]]
        assert sent[0]["content"].startswith("【华信银行】您的投诉（编号T1）已受理")
        assert len(sandbox.writes("sms")) == 2
        bad = call(c, "POST", f"{base}/v1/sms/send", body=msg | {"mobile": "12345"})
        assert bad.status_code == 400 and bad.json()["code"] == "isv.MOBILE_NUMBER_ILLEGAL"
        bad = call(c, "POST", f"{base}/v1/sms/send", body=msg | {"template_code": "NOPE"})
        assert bad.json()["code"] == "isv.SMS_TEMPLATE_ILLEGAL"
        bad = call(c, "POST", f"{base}/v1/sms/send", body=msg | {"params": {"ticket": "T1"}})
        assert bad.json()["code"] == "isv.TEMPLATE_MISSING_PARAMETERS"
        assert len(sandbox.writes("sms")) == 2
        # Delivery reports appear one simulated minute later.
        sandbox.advance(2)
        reps = call(c, "GET", f"{base}/v1/sms/reports").json()
        assert {r["biz_id"] for r in reps["items"]} == {a["biz_id"], b["biz_id"]}
        assert all(r["status"] == "DELIVRD" for r in reps["items"])


def test_survey_replies_arrive_on_the_mo_cursor(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=10, rate=0, survey_reply_prob=1.0)
    base = sb.urls["sms"]
    with httpx.Client() as c:
        first = call(c, "GET", f"{base}/v1/sms/mo", params={"limit": 500}).json()
        cursor = first["next_cursor"]
        assert not first["has_more"]
        for i in range(5):
            r = call(c, "POST", f"{base}/v1/sms/send", body={"mobile": f"1390000{i:04d}", "template_code": "SMS_SURVEY",
                                                              "params": {"ticket": f"T{i}"}, "out_id": f"s-{i}"})
            assert r.status_code == 200
        assert call(c, "GET", f"{base}/v1/sms/mo", params={"cursor": cursor}).json()["items"] == []
        sb.advance(130)
        sb.inject("sms", {"mobile": "13900009999", "content": "2"})
        page = call(c, "GET", f"{base}/v1/sms/mo", params={"cursor": cursor, "limit": 3}).json()
        rest = call(c, "GET", f"{base}/v1/sms/mo", params={"cursor": page["next_cursor"]}).json()
        items = page["items"] + rest["items"]
        assert page["has_more"] and len(items) == 6
        assert {i["mobile"] for i in items[:5]} == {f"1390000{i:04d}" for i in range(5)}
        assert all(i["content"] in {"1", "2", "满意", "不满意", "T", "TD", "退订"} for i in items)
        assert items[-1]["content"] == "2" and items[-1]["mobile"] == "13900009999"
        truth = {t["external_id"]: t for t in sb.truth("sms")}
        assert all(truth[i["mo_id"]]["kind"] in ("survey_reply", "unsubscribe") for i in items)
        assert any(i["reply_to_out_id"] for i in items[:5])


def test_survey_answer_mix_is_configurable_and_unsubscribe_blocks_delivery(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=0, rate=0, survey_reply_prob=1.0, survey_answers={"不满意": 1.0})
    base = sb.urls["sms"]
    with httpx.Client() as c:
        for i in range(3):
            call(c, "POST", f"{base}/v1/sms/send", body={"mobile": f"1370000{i:04d}", "template_code": "SMS_SURVEY",
                                                         "params": {"ticket": "T"}, "out_id": f"m-{i}"})
        sb.advance(121)
        items = call(c, "GET", f"{base}/v1/sms/mo").json()["items"]
        assert [i["content"] for i in items] == ["不满意"] * 3
        assert all(t["answer"] == "dissatisfied" for t in sb.truth("sms"))
        sb.inject("sms", {"mobile": "13700000000", "content": "TD"})
        call(c, "POST", f"{base}/v1/sms/send", body={"mobile": "13700000000", "template_code": "SMS_INCIDENT",
                                                     "params": {"notice": "系统故障"}, "out_id": "n-1"})
        sb.advance(2)
        reps = call(c, "GET", f"{base}/v1/sms/reports").json()["items"]
        assert [r["status"] for r in reps if r["out_id"] == "n-1"] == ["UNDELIV"]

"""Both portals over plain HTTP: login steps, session expiry, pagination, detail fields, write-once forms."""

from __future__ import annotations

import html
import re
import time

import httpx

from sandbox import CREDENTIALS
from tests.sandbox.htmlkit import data_fields, hidden

GOV = CREDENTIALS["gov12315"]
CAT = CREDENTIALS["blackcat"]


def gov_login(sb, c: httpx.Client) -> None:
    base = sb.urls["gov12315"]
    page = c.get(f"{base}/login").text
    r = c.post(f"{base}/login", data={"username": GOV["username"], "password": GOV["password"],
                                      "csrf_token": hidden(page, "csrf_token")})
    assert r.status_code == 303 and r.headers["location"] == "/login/sms"
    sms = c.get(f"{base}/login/sms").text
    r = c.post(f"{base}/login/sms", data={"sms_code": sb.sms_code(), "csrf_token": hidden(sms, "csrf_token")})
    assert r.status_code == 303 and r.headers["location"] == "/complaints"


def test_gov12315_login_steps_and_expiry(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=10, faults={"gov12315": {"session_ttl": 1}})
    base = sb.urls["gov12315"]
    with httpx.Client(base_url=base) as c:
        assert c.get("/complaints").headers["location"] == "/login"
        page = c.get("/login").text
        assert c.post("/login", data={**GOV, "csrf_token": "forged"}).status_code == 403
        bad = c.post("/login", data={"username": GOV["username"], "password": "x", "csrf_token": hidden(page, "csrf_token")})
        assert "用户名或密码错误" in bad.text
        c.post("/login", data={**GOV, "csrf_token": hidden(page, "csrf_token")})
        sms = c.get("/login/sms").text
        assert "验证码错误" in c.post("/login/sms", data={"sms_code": "000000" if sb.sms_code() != "000000" else "111111",
                                                          "csrf_token": hidden(sms, "csrf_token")}).text
        assert httpx.get(f"{base}/__admin/sms-code").json()["code"] == sb.sms_code()
        c.post("/login/sms", data={"sms_code": sb.sms_code(), "csrf_token": hidden(sms, "csrf_token")})
        assert c.get("/complaints").status_code == 200
        time.sleep(1.1)
        r = c.get("/complaints")
        assert r.status_code == 302 and r.headers["location"] == "/login?expired=1"
        assert "会话已过期" in c.get(r.headers["location"]).text


def test_gov12315_list_detail_and_handle_once(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=20)
    sb.generate(30, "gov12315")
    base = sb.urls["gov12315"]
    with httpx.Client(base_url=base) as c:
        gov_login(sb, c)
        first = c.get("/complaints").text
        total = int(re.search(r"共 (\d+) 条", first).group(1))
        assert total == len(sb.records("gov12315")) and total > 20
        assert first.count('class="complaint-row"') == 20 and 'class="next-page"' in first
        keys = set()
        n = 1
        while True:
            page = c.get("/complaints", params={"page": n}).text
            keys |= set(re.findall(r'href="/complaints/([^"]+)"', page))
            if 'class="next-page"' not in page:
                break
            n += 1
        assert len(keys) == total
        pending = c.get("/complaints", params={"status": "待处理"}).text
        assert "处理中</span>" not in pending.split("complaint-table")[1]
        rec = next(r for r in sb.records("gov12315") if r["reg_no"] and r["status"] == "待处理")
        key = rec["reg_no"]
        detail = c.get(f"/complaints/{key}").text
        fields = data_fields(detail)
        for k in ("reg_no", "complainant", "phone", "respondent", "region", "content", "demands", "registered_at",
                  "deadline", "status"):
            assert fields[k] == str(rec[k]).strip(), k
        for label in ("登记编号", "投诉人", "联系电话", "被投诉方", "投诉内容", "诉求", "登记时间", "处理期限", "状态", "附件"):
            assert f'<th class="label">{label}</th>' in detail
        csrf = hidden(detail, "csrf_token")
        bad = c.post(f"/complaints/{key}/handle", data={"process": "", "method": "x", "csrf_token": csrf})
        assert bad.status_code == 422 and "协商过程不能为空" in bad.text and "请选择协商结果" in bad.text
        ok = c.post(f"/complaints/{key}/handle", data={"process": "电话联系消费者，已退还年费", "method": "电话协商",
                                                       "result": "和解成功", "csrf_token": csrf})
        assert ok.status_code == 303
        after = c.get(f"/complaints/{key}").text
        assert "处理结果已提交" in after and 'id="handle-form"' not in after and data_fields(after)["status"] == "已办结"
        again = c.post(f"/complaints/{key}/handle", data={"process": "再次提交的内容", "method": "电话协商",
                                                          "result": "和解成功", "csrf_token": csrf})
        assert again.status_code == 409 and "不能重复提交" in again.text
    w = sb.writes("gov12315")
    assert len(w) == 1 and w[0]["data"] == {"process": "电话联系消费者，已退还年费", "method": "电话协商", "result": "和解成功"}


def test_gov12315_escapes_script_and_variant(module_sandbox) -> None:
    sb = module_sandbox
    key = sb.inject("gov12315", {"content": "<script>alert(1)</script>投诉内容", "title": "标题"})
    with httpx.Client(base_url=sb.urls["gov12315"]) as c:
        gov_login(sb, c)
        page = c.get(f"/complaints/{key}").text
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        sb.set_faults("gov12315", markup_variant="v2")
        try:
            lst = c.get("/complaints").text
            assert 'id="case-list"' in lst and "complaint-table" not in lst
            heads = re.findall(r"<th>([^<]+)</th>", lst)
            assert heads[:3] == ["状态", "登记时间", "登记编号"]
            v2 = c.get(f"/complaints/{key}").text
            assert 'class="info-label">状态：' in v2 and "data-field" not in v2 and 'id="dispose-form"' in v2
        finally:
            sb.set_faults("gov12315", markup_variant="default")


def cat_login(sb, c: httpx.Client) -> None:
    r = c.post("/login", data=CAT)
    assert r.status_code == 303


def test_blackcat_login_load_more_reply_complete(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=20)
    sb.generate(25, "blackcat")
    with httpx.Client(base_url=sb.urls["blackcat"]) as c:
        assert "账号或密码错误" in c.post("/login", data={"account": CAT["account"], "password": "no"}).text
        cat_login(sb, c)
        page = c.get("/merchant/complaints").text
        assert page.count('class="complaint-card"') == 10 and 'id="load-more"' in page
        total = len(sb.records("blackcat"))
        seen, n = set(), 1
        while True:
            frag = c.get("/merchant/complaints", params={"page": n, "partial": 1}).text
            seen |= set(re.findall(r'href="/merchant/complaints/([^"]+)"', frag))
            if 'id="load-more"' not in frag:
                assert 'class="no-more"' in frag
                break
            n += 1
        assert len(seen) == total
        rec = next(r for r in sb.records("blackcat") if r["sn"] and r["status"] == "审核通过")
        sn = rec["sn"]
        detail = c.get(f"/merchant/complaints/{sn}").text
        f = data_fields(detail)
        assert f["sn"] == sn and f["target"] == rec["target"] and f["problem"] == rec["problem"]
        assert re.findall(r'class="demand-tag">([^<]+)<', detail) == [html.escape(d) for d in rec["demands"]]
        assert c.post(f"/merchant/complaints/{sn}/complete").status_code == 409
        assert c.post(f"/merchant/complaints/{sn}/reply", data={"content": "  "}).status_code == 422
        assert c.post(f"/merchant/complaints/{sn}/reply", data={"content": "您好，已联系您处理"}).status_code == 303
        assert c.post(f"/merchant/complaints/{sn}/reply", data={"content": "补充说明"}).status_code == 303
        mid = c.get(f"/merchant/complaints/{sn}").text
        assert '<span class="status-tag">已回复</span>' in mid and "商家已回复：您好，已联系您处理" in mid
        assert c.post(f"/merchant/complaints/{sn}/complete").status_code == 303
        done = c.get(f"/merchant/complaints/{sn}").text
        assert '<span class="status-tag">已完成</span>' in done and 'id="reply-form"' not in done
        assert c.post(f"/merchant/complaints/{sn}/complete").status_code == 409
        assert c.post(f"/merchant/complaints/{sn}/reply", data={"content": "x"}).status_code == 409
        sb.expire_sessions("blackcat")
        r = c.get("/merchant/complaints")
        assert r.status_code == 302 and r.headers["location"] == "/login?expired=1"
    kinds = [w["kind"] for w in sb.writes("blackcat")]
    assert kinds == ["reply", "reply", "complete"]


def test_portal_faults_are_html(module_sandbox) -> None:
    sb = module_sandbox
    sb.set_faults("blackcat", error_rate=1.0, error_codes=[502])
    try:
        r = httpx.get(f"{sb.urls['blackcat']}/login")
        assert r.status_code == 502 and "<h1>502</h1>" in r.text
    finally:
        sb.set_faults("blackcat", error_rate=0.0)
    assert httpx.get(f"{sb.urls['blackcat']}/login").status_code == 200

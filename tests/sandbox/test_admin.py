"""The /__admin endpoints over HTTP (what `hub sandbox serve` users drive), and the simulated clock."""

from __future__ import annotations

import time
from collections import Counter

import httpx


def test_clock_generation_truth_and_burst(sandbox) -> None:
    base = sandbox.urls["callcenter"]  # any system: the state is shared
    with httpx.Client(base_url=base) as c:
        clock = c.get("/__admin/clock").json()
        assert clock["now"] == "2026-11-20T09:00:00+08:00" == clock["start"]
        before = len(c.get("/__admin/truth").json())
        r = c.post("/__admin/clock", json={"advance_minutes": 120}).json()
        assert r["now"] == "2026-11-20T11:00:00+08:00"
        assert 80 <= r["generated"] <= 170  # rate 60/h, Poisson
        truth = c.get("/__admin/truth").json()
        assert len(truth) == before + r["generated"]
        assert len({t["source"] for t in truth}) == 5
        assert c.post("/__admin/clock", json={"advance_minutes": -1}).status_code == 400
        inc = c.post("/__admin/burst", json={"size": 20, "minutes": 30}).json()["incident"]
        c.post("/__admin/clock", json={"advance_minutes": 31})
        burst = [t for t in c.get("/__admin/truth").json() if t["incident"] == inc]
        assert len(burst) == 20 and all(t["subcategory"] == "C0104" for t in burst)
        assert Counter(t["source"] for t in burst).most_common(1)[0][0] in ("app", "callcenter")
        app_truth = c.get("/__admin/truth", params={"source": "app"}).json()
        assert app_truth and all(t["source"] == "app" for t in app_truth)


def test_inject_generate_records_faults_reset(sandbox) -> None:
    with httpx.Client(base_url=sandbox.urls["app"]) as c:
        r = c.post("/__admin/inject", json={"fields": {"title": "注入的投诉"}}).json()
        assert r["source"] == "app"
        recs = c.get("/__admin/records").json()
        assert any(x["external_id"] == r["external_id"] and x["payload"]["title"] == "注入的投诉" for x in recs)
        bad = c.post("/__admin/inject", json={"source": "blackcat", "malformed": True}).json()
        t = next(t for t in c.get("/__admin/truth").json() if t["external_id"] == bad["external_id"])
        assert t["malformed"] and t["malformed_field"] in ("created_at", "sn", "content", "amount")
        made = c.post("/__admin/generate", json={"n": 5, "source": "sms"}).json()["generated"]
        assert len(made) == 5 and {m["source"] for m in made} == {"sms"}
        f = c.post("/__admin/faults", json={"source": "sms", "error_rate": 0.5}).json()
        assert f["error_rate"] == 0.5
        assert c.get("/__admin/faults").json()["sms"]["error_rate"] == 0.5
        assert c.post("/__admin/faults", json={"nonsense": 1}).status_code == 400
        assert c.get("/__admin/sms-code").status_code == 404
        assert c.post("/__admin/reset").json()["ok"]
        assert c.get("/__admin/faults").json()["sms"]["error_rate"] == 0.0
        assert all(x["external_id"] != r["external_id"] for x in c.get("/__admin/records").json())
        assert c.get("/__admin/writes").json() == []


def test_same_seed_same_backlog(sandbox_factory) -> None:
    a, b = sandbox_factory(seed=5), sandbox_factory(seed=5)
    assert a.records("callcenter") == b.records("callcenter")
    assert a.advance(30) == b.advance(30)
    assert a.truth() == b.truth()
    assert sandbox_factory(seed=6).records("callcenter") != a.records("callcenter")


def test_malformed_rate_fault_applies_to_new_records(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=0, rate=600, faults={"*": {"malformed_rate": 1.0}})
    sb.advance(4)
    complaints = [t for t in sb.truth() if t["kind"] == "complaint"]
    assert complaints and all(t["malformed"] for t in complaints)


def test_scheduled_burst_and_running_clock(sandbox_factory) -> None:
    sb = sandbox_factory(backlog=0, rate=0, burst_size=6, burst_at_minutes=10)
    sb.advance(9)
    assert sb.truth() == []
    sb.advance(32)
    assert len([t for t in sb.truth() if t["incident"] == "B1"]) == 6
    fast = sandbox_factory(backlog=0, rate=0, speed=600)  # 10 simulated minutes per real second
    deadline = time.monotonic() + 5
    while fast.now() == fast.state.start and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (fast.now() - fast.state.start).total_seconds() >= 300

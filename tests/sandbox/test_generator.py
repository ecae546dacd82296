"""The offline generator: determinism, shape, edge cases, duplicates, burst, malformed flags."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime

from sandbox.generator import generate_records, generate_records_with_truth
from sandbox.people import id_check_digit

KEYS = {
    "gov12315": {"reg_no", "complainant", "phone", "respondent", "region", "content", "demands", "registered_at",
                 "deadline", "status", "attachments"},
    "blackcat": {"sn", "title", "target", "problem", "demands", "content", "user_nick", "created_at", "status",
                 "progress"},
    "app": {"id", "user", "category", "title", "content", "order_no", "rating", "attachments", "status", "reply",
            "created_at", "updated_at"},
    "sms": {"mo_id", "mobile", "content", "received_at", "dest_code", "reply_to_out_id"},
    "callcenter": {"order_no", "caller", "customer_name", "id_number", "agent_id", "category_code", "transcript",
                   "summary", "created", "updated", "status", "result"},
}
OPTIONAL = {"gov12315": {"id_number", "title", "amount"}, "blackcat": {"amount", "phone"}}


def test_deterministic_by_seed_and_mixed() -> None:
    a = generate_records(7, 400)
    assert a == generate_records(7, 400)
    assert a != generate_records(8, 400)
    counts = Counter(s for s, _, _ in a)
    assert set(counts) == set(KEYS)
    assert len({(s, e) for s, e, _ in a}) == 400  # external ids unique per source


def test_payload_keys_follow_the_contract() -> None:
    records, truth = generate_records_with_truth(3, 2000)
    for (source, ext, payload), t in zip(records, truth, strict=True):
        if t["malformed"]:
            continue
        keys = set(payload)
        assert KEYS[source] <= keys, (source, KEYS[source] - keys)
        assert keys - KEYS[source] <= OPTIONAL.get(source, set()), (source, keys - KEYS[source])
        id_key = {"gov12315": "reg_no", "blackcat": "sn", "app": "id", "sms": "mo_id", "callcenter": "order_no"}[source]
        assert payload[id_key] == ext
        if source == "app":
            datetime.fromisoformat(payload["created_at"])
            assert payload["created_at"].endswith("+08:00")
        if source == "callcenter":
            datetime.strptime(payload["created"], "%Y-%m-%d %H:%M:%S")  # zone-less local time (the quirk)


def test_customers_have_valid_ids_and_some_are_elderly() -> None:
    records, truth = generate_records_with_truth(5, 1500, ["callcenter", "app"])
    ids = [p["user"]["id_no"] if s == "app" else p["id_number"] for s, _, p in records]
    ids = [i for i in ids if i]
    assert ids and all(len(i) == 18 and id_check_digit(i[:17]) == i[17] for i in ids)
    assert any(t["elderly"] for t in truth) and not all(t["elderly"] for t in truth)
    assert {s for s, _, _ in records} == {"callcenter", "app"}


def test_cross_channel_duplicates_repeaters_and_burst() -> None:
    records, truth = generate_records_with_truth(11, 3000, burst_size=200)
    by_matter = defaultdict(set)
    for t in truth:
        if t["matter_key"]:
            by_matter[t["matter_key"]].add(t["source"])
    assert sum(1 for s in by_matter.values() if len(s) > 1) >= 50  # same matter on several channels
    per_customer = Counter(t["customer_key"] for t in truth if t["kind"] == "complaint")
    assert per_customer.most_common(1)[0][1] >= 5  # repeat complainers
    burst = [t for t in truth if t["incident"] == "B1"]
    assert len(burst) == 200
    times = sorted(datetime.fromisoformat(t["created"]) for t in burst)
    assert (times[-1] - times[0]).total_seconds() <= 1800
    assert all(t["subcategory"] == "C0104" for t in burst)
    assert any("APP无法登录" in str(p) or "登录" in str(p) for (s, e, p), t in zip(records, truth, strict=False) if t["incident"])


def test_malformed_records_are_flagged_and_really_broken() -> None:
    records, truth = generate_records_with_truth(2, 5000, malformed_rate=0.02)
    bad = [(r, t) for r, t in zip(records, truth, strict=True) if t["malformed"]]
    assert 50 <= len(bad) <= 160
    for (source, _, payload), t in bad:
        f = t["malformed_field"]
        value = payload.get(f)
        broken = value in (None, "") or "abc" in str(value) or not _valid_date(str(value))
        assert broken, (source, f, value)
    assert all(not t["malformed"] for t in truth if t["malformed_field"] is None)


def _valid_date(v: str) -> bool:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            datetime.strptime(v, fmt)
            return True
        except ValueError:
            pass
    try:
        datetime.fromisoformat(v)
        return True
    except ValueError:
        return False


def test_edge_cases_present() -> None:
    records, truth = generate_records_with_truth(4, 6000)
    edges = Counter(e for t in truth for e in t["edge"])
    assert edges["emoji"] and edges["html"] and edges["long"] and edges["fullwidth"]
    assert any(len(p.get("content") or p.get("transcript") or "") == 5000 for _, _, p in records)
    assert any("<script>" in (p.get("content") or p.get("transcript") or "") for _, _, p in records)
    assert any(any("０" <= ch <= "９" for ch in str(p.get("amount", ""))) for s, _, p in records if s == "blackcat")
    kinds = Counter(t["kind"] for t in truth)
    assert kinds["survey_reply"] and kinds["unsubscribe"]
    assert {p["content"] for (s, _, p), t in zip(records, truth, strict=False) if t["kind"] == "unsubscribe"} <= {"T", "TD", "退订"}


def test_fast_enough_for_benchmarks() -> None:
    t0 = time.perf_counter()
    records = generate_records(1, 5_000)
    elapsed = time.perf_counter() - t0
    assert len(records) == 5_000
    assert elapsed < 8.0, elapsed  # ~0.5 s on an idle core; 100k in ~4-5 s

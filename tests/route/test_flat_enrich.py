"""Enrich work that does not grow with the store: stored signatures, bounded candidate look-ups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.pipeline import dedupe, dedupe_config, matter
from hub.pipeline.enrich import enrich_and_route
from hub.store.recent import recent_rows
from hub.store.tables import ticket_signatures, tickets
from hub.store.tickets import get_tickets
from tests.route.factory import L, make, store_tickets

NOW = L(2026, 11, 23, 10, 30)
TEXT = "信用卡年费被乱扣了三百元，客服一直不处理，要求退还年费"


def _with_raw(t, raw: str):  # noqa: ANN001, ANN202
    t.raw_hash = raw
    return t


@pytest.fixture
def describes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ticket ids `_Doc.describe` ran for (the process cache emptied, so only the store can help)."""
    seen: list[str] = []
    real = matter._Doc.describe

    def spy(self, text, amount, cfg, hasher) -> None:  # noqa: ANN001
        seen.append(self.ticket_id)
        real(self, text, amount, cfg, hasher)

    monkeypatch.setattr(matter._Doc, "describe", spy)
    matter._DESCRIPTORS.clear()
    return seen


def _pair(store, phone: str) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """Two tickets of one customer, enriched one after the other (the second links to the first)."""
    a = store_tickets(store, _with_raw(make(TEXT, phone=phone, at=L(2026, 11, 20, 9)), "ra"))
    enrich_and_route(store, a, now=L(2026, 11, 20, 9, 5))
    b = store_tickets(store, _with_raw(make(TEXT + "。", source="wechat", phone=phone, at=L(2026, 11, 21, 9)), "rb"))
    enrich_and_route(store, b, now=L(2026, 11, 21, 9, 5))
    return a, b


def test_a_ticket_is_described_once_then_its_stored_signature_is_used(store, describes) -> None:  # noqa: ANN001
    a, b = _pair(store, "13600000011")
    assert sorted(describes) == sorted(a + b)  # a alone was not compared; then both, once
    matter._DESCRIPTORS.clear()  # another process: only the store remembers
    c = store_tickets(store, _with_raw(make(TEXT, source="sms", phone="13600000011", at=L(2026, 11, 22, 9)), "rc"))
    enrich_and_route(store, c, now=NOW)
    assert sorted(describes) == sorted(a + b + c)  # a's and b's signatures came from ticket_signatures
    with store.begin() as conn:
        got = get_tickets(conn, a + b + c)
        sigs = {r.ticket_id: r for r in conn.execute(select(ticket_signatures))}
    assert got[c[0]].case_id == got[b[0]].case_id == got[a[0]].case_id is not None
    assert "similar matter (text)" in got[c[0]].case_link.reason
    assert set(sigs) == {a[0], b[0], c[0]} and sigs[a[0]].raw_hash == "ra"


def test_an_outdated_signature_is_recomputed(store, describes) -> None:  # noqa: ANN001
    a, b = _pair(store, "13600000012")
    with store.begin() as conn:  # as if a's source record changed after its signature was stored
        conn.execute(update(ticket_signatures).where(ticket_signatures.c.ticket_id == a[0]).values(raw_hash="older"))
    matter._DESCRIPTORS.clear()
    c = store_tickets(store, _with_raw(make(TEXT, source="sms", phone="13600000012", at=L(2026, 11, 22, 9)), "rc"))
    enrich_and_route(store, c, now=NOW)
    assert sorted(describes) == sorted(a + b + a + c)
    with store.begin() as conn:
        assert conn.execute(select(ticket_signatures.c.raw_hash)
                            .where(ticket_signatures.c.ticket_id == a[0])).scalar() == "ra"
        got = get_tickets(conn, a + c)
    assert got[c[0]].case_id == got[a[0]].case_id is not None


def test_stored_descriptor_is_encrypted(store) -> None:  # noqa: ANN001
    a = store_tickets(store, _with_raw(make("退款13812345678元没到账，转账失败", phone="13600000013",
                                            at=L(2026, 11, 22, 9)), "ra"),
                      _with_raw(make("退款13812345678元没到账", phone="13600000013"), "rb"))
    enrich_and_route(store, a, now=NOW)
    with store.begin() as conn:
        blobs = list(conn.execute(select(ticket_signatures.c.descriptor)).scalars())
    assert len(blobs) == 2
    assert all(b"13812345678" not in b and b"transfer" not in b for b in blobs)


def test_only_the_most_recent_candidates_of_a_customer_count(store) -> None:  # noqa: ANN001
    # the oldest of six earlier tickets is the matching one; five newer ones are about other things
    first = make(TEXT, phone="13600000014", at=L(2026, 11, 18, 9))
    others = [make(f"手机银行第{i}次登录闪退，页面打不开", phone="13600000014", at=L(2026, 11, 19, 9 + i))
              for i in range(5)]
    store_tickets(store, first, *others)
    new = make(TEXT, source="wechat", phone="13600000014", at=L(2026, 11, 22, 9))
    store_tickets(store, new)
    narrow = dedupe_config.DedupeConfig.model_validate({**dedupe.load_config().model_dump(), "max_candidates": 5})
    with store.begin() as conn:
        assert dedupe.link_cases(conn, [new], narrow, NOW, caller_saves=True).linked == 0
    with store.begin() as conn:
        dedupe.link_cases(conn, [new], dedupe.load_config(), NOW, caller_saves=True)
    assert new.case_link is not None and new.case_link.linked_to == first.ticket_id


def test_recent_rows_bounds_each_key(store) -> None:  # noqa: ANN001
    heavy = [make("年费", phone="13600000015", at=L(2026, 11, 1) + timedelta(hours=i)) for i in range(7)]
    light = [make("年费", phone="13600000016", at=L(2026, 11, 1) + timedelta(hours=i)) for i in range(2)]
    store_tickets(store, *heavy, *light)
    with store.begin() as conn:
        got = recent_rows(conn, tickets.c.phone_hash, {heavy[0].customer.phone_hash, light[0].customer.phone_hash},
                          [tickets.c.ticket_id], L(2026, 11, 1, 1), None, 3)
    assert sorted(r.ticket_id for r in got) == sorted([t.ticket_id for t in heavy[-3:]]
                                                      + [light[1].ticket_id])


def test_saving_with_the_stored_rows_writes_what_a_full_save_writes(store) -> None:  # noqa: ANN001
    """The enrich save (customer and matter kept as stored, PII not re-encrypted) leaves the same row."""
    from core.pii import get_vault
    from hub.store.tickets import save_tickets

    ids = store_tickets(store, make(TEXT, phone="13600000077", amount="300"), make(TEXT, phone="13600000078"))
    enrich_and_route(store, ids, now=NOW)  # routed: judgement, handling, clocks and explanations set
    with store.begin() as conn:
        kept: dict = {}
        loaded = get_tickets(conn, ids, keep=kept)
        before = {r.ticket_id: r for r in conn.execute(select(tickets).where(tickets.c.ticket_id.in_(ids)))}
        for t in loaded.values():
            t.judgement.tags.append("checked")  # a hub-owned change, so the save has something to write
            t.updated_at = NOW + timedelta(minutes=1)
        save_tickets(conn, list(loaded.values()), [], kept)  # the fast path
        fast = {r.ticket_id: r for r in conn.execute(select(tickets).where(tickets.c.ticket_id.in_(ids)))}
        save_tickets(conn, list(loaded.values()), [])  # the full path (model dump, PII sealed again)
        full = {r.ticket_id: r for r in conn.execute(select(tickets).where(tickets.c.ticket_id.in_(ids)))}
    vault = get_vault()
    for tid in ids:
        a, b = fast[tid]._asdict(), full[tid]._asdict()
        assert a["pii_enc"] == before[tid].pii_enc  # not re-encrypted
        assert vault.decrypt_bytes(a.pop("pii_enc")) == vault.decrypt_bytes(b.pop("pii_enc"))
        assert a.pop("version") + 1 == b.pop("version")
        assert a == b
        assert "checked" in a["data"]["judgement"]["tags"] and a["data"]["matter"]["content"] == ""


def test_a_row_with_unsealed_free_text_takes_the_full_save(store) -> None:  # noqa: ANN001
    """A row of an older version (content in clear in `data`) is sealed by the save, not kept as it was."""
    from hub.store.tickets import save_tickets

    ids = store_tickets(store, make(TEXT, phone="13600000079"))
    with store.begin() as conn:
        row = conn.execute(select(tickets.c.data).where(tickets.c.ticket_id == ids[0])).one()
        legacy = {**row.data, "matter": {**row.data["matter"], "content": TEXT}}
        conn.execute(update(tickets).where(tickets.c.ticket_id == ids[0]).values(data=legacy))
        kept: dict = {}
        loaded = get_tickets(conn, ids, keep=kept)
        save_tickets(conn, list(loaded.values()), [], kept)
        data = conn.execute(select(tickets.c.data).where(tickets.c.ticket_id == ids[0])).scalar_one()
    assert data["matter"]["content"] == ""


def test_the_collector_is_paused_during_a_chunk_and_restored_after(store, monkeypatch) -> None:  # noqa: ANN001
    """Enrich turns the cyclic collector off for a chunk and back on afterwards, also when the chunk fails."""
    import gc

    from hub.pipeline import enrich

    seen: list[bool] = []
    real = enrich._chunk

    def spy(*a, **k) -> None:  # noqa: ANN002, ANN003
        seen.append(gc.isenabled())
        real(*a, **k)

    monkeypatch.setattr(enrich, "_chunk", spy)
    ids = store_tickets(store, make(TEXT, phone="13600000080"))
    assert gc.isenabled()
    enrich_and_route(store, ids, now=NOW)
    assert seen == [False] and gc.isenabled()

    def boom(*a, **k) -> None:  # noqa: ANN002, ANN003
        raise ValueError("chunk failed")

    monkeypatch.setattr(enrich, "_chunk", boom)
    with pytest.raises(ValueError, match="chunk failed"):
        enrich_and_route(store, ids, now=NOW)
    assert gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps it off
    try:
        monkeypatch.setattr(enrich, "_chunk", real)
        enrich_and_route(store, ids, now=NOW)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_large_group_is_linked_in_numpy_exactly_as_pair_by_pair(monkeypatch) -> None:  # noqa: ANN001
    """A customer with hundreds of tickets in the window: the numpy comparison plans the same cases,
    links and repeat counts as scoring each pair (texts, amounts, topics, the time window and ties)."""
    import random
    from datetime import datetime

    from core.schema import SHANGHAI

    cfg = dedupe.load_config()
    hasher = matter.MinHasher(cfg.num_perm)
    rnd = random.Random(5)
    phrases = ["信用卡年费被乱扣", "手机银行登录闪退", "理财亏损要求赔偿", "转账一直不到账", "客服态度很差",
               "贷款利率太高", "账户被冻结", "个人信息泄露", "推销电话骚扰", "保险理赔被拒",
               "我很不满意", "请尽快给个说法", "事情过了很久没人管"]  # the last three: no topic
    docs = []
    for i in range(260):
        text = "，".join(rnd.sample(phrases, rnd.randint(1, 3))) + ("金额300元" if rnd.random() < 0.2 else "")
        d = matter._Doc(f"T{i:04d}", rnd.choice(["app", "sms", "wechat"]),
                        datetime(2026, 11, 1, tzinfo=SHANGHAI) + timedelta(hours=rnd.uniform(0, 24 * 12)),
                        None, True, 0, ("phone_hash:h1",))
        d.describe(text, None, cfg, hasher)
        docs.append(d)
    fresh = {d.ticket_id for d in rnd.sample(docs, 60)}
    rows_per_band = cfg.num_perm // cfg.bands
    by_pair: dict = {}
    monkeypatch.setattr(dedupe, "VECTOR_FROM", 10**6)
    dedupe._plan_group(list(docs), cfg, rows_per_band, by_pair, fresh)
    by_numpy: dict = {}
    monkeypatch.setattr(dedupe, "VECTOR_FROM", 8)
    monkeypatch.setattr(dedupe, "_CELLS", 64 * 260 * 7)  # several blocks of batch tickets
    dedupe._plan_group(list(docs), cfg, rows_per_band, by_numpy, fresh)
    import re

    why = {m.group(1) for _, link, _ in by_pair.values() if (m := re.search(r"similar matter \(([^)]*)\)", link.reason))}
    assert len(by_pair) > 100 and {"text", "same amount 300.00"} <= why  # every signal decided some links
    assert any(w.startswith("same topic") for w in why)
    assert by_numpy == by_pair


def test_candidate_pairs_are_every_pair_with_a_batch_ticket_that_shares_a_band_topic_or_amount() -> None:
    """The blocking index (batch tickets' keys only) finds exactly the pairs a brute-force comparison
    of every pair finds: a shared LSH band, topic or amount, and at least one batch ticket."""
    import random
    from datetime import datetime

    import numpy as np

    from core.schema import SHANGHAI

    cfg = dedupe.load_config()
    rows_per_band = cfg.num_perm // cfg.bands
    rnd = random.Random(3)

    def bands(d: matter._Doc) -> set[tuple[int, bytes]]:
        assert d.sig is not None
        return {(b, d.sig[b * rows_per_band:(b + 1) * rows_per_band].tobytes()) for b in range(cfg.bands)}

    found = 0
    for _ in range(200):
        ds = []
        for i in range(rnd.randrange(1, dedupe.VECTOR_FROM)):
            d = matter._Doc(f"T{i:03d}", "app", datetime(2026, 11, 1, tzinfo=SHANGHAI), None, True, 0, ("k",))
            d.sig = np.array([rnd.randrange(3) for _ in range(cfg.num_perm)], dtype=np.uint64)  # bands collide
            d.topics = frozenset(rnd.sample(["fee", "app", "loan", "card"], rnd.randrange(2)))
            d.amounts = frozenset(rnd.sample(["300.00", "1200.00"], rnd.randrange(2)))
            ds.append(d)
        fresh = {d.ticket_id for d in ds if rnd.random() < 0.25}
        brute = {(a, b) for a in range(len(ds)) for b in range(a + 1, len(ds))
                 if (ds[a].ticket_id in fresh or ds[b].ticket_id in fresh)
                 and (bands(ds[a]) & bands(ds[b]) or ds[a].topics & ds[b].topics or ds[a].amounts & ds[b].amounts)}
        assert dedupe._candidate_pairs(ds, cfg, rows_per_band, fresh) == brute
        found += len(brute)
    assert found > 500  # the groups did share keys: the comparison was not of empty sets

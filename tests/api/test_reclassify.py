"""Learning from handlers: `reclassify` over real HTTP, re-routing, export and retraining.

A handler corrects the judgement of a ticket; the correction is an event, the ticket moves to
the team the corrected judgement routes to (that team is told through the outbox), bad values
get a 422 naming the field without echoing them, `hub judge export-corrections` writes the
correction in the corpus format with the personal data scrubbed, and `hub judge train
--corrections` takes it in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from hub.judge.corpus import load_corpus
from hub.judge.model import load_model_file
from hub.store.tables import outbox
from hub.store.tickets import get_events, get_ticket
from tests.api.seed import ID_NUMBER, PHONE, make_ticket, seed

CLI = [sys.executable, "-c", "from cli import app; app()"]


def test_reclassify_reroutes_records_and_refuses_bad_values(api, tmp_path: Path,  # noqa: ANN001
                                                            monkeypatch) -> None:  # noqa: ANN001
    t = make_ticket("C-misjudged", team="cards", handler="zhang.wei",
                    content=f"有人冒充客服让我报验证码，卡被盗刷了5000元。我的电话{PHONE}，身份证{ID_NUMBER}")
    other = make_ticket("C-other", team="cards")
    seed(api.store, [t, other])
    cards_h, cards_c = api.client("cards", "handler"), api.client("cards", "compliance")
    path = f"/api/v1/tickets/{t.ticket_id}/reclassify"

    # values the taxonomy does not know: 422 naming the field, the value not echoed
    r = cards_h.post(path, json={"category": "info_security", "sub_category": "zz-not-a-sub", "note": "改判"})
    assert r.status_code == 422 and "sub_category" in r.text and "zz-not-a-sub" not in r.text
    r = cards_h.post(path, json={"business_line": "zz-not-a-line", "note": "改判"})
    assert r.status_code == 422 and "business_line" in r.text and "zz-not-a-line" not in r.text
    r = cards_h.post(path, json={"category": "info_security", "note": "改判"})  # a new reason needs its sub
    assert r.status_code == 422 and "sub_category" in r.text
    assert cards_h.post(path, json={"category": "bogus", "sub_category": "theft", "note": "x"}).status_code == 422
    assert cards_c.post(path, json={"urgency": "urgent", "note": "x"}).status_code == 403  # compliance reads only
    assert api.client("payments", "handler").post(path, json={"urgency": "urgent", "note": "x"}).status_code == 404

    # the correction: fraud, urgent → the security team's rule
    r = cards_h.post(path, json={"category": "info_security", "sub_category": "fraud", "urgency": "urgent",
                                 "business_line": "cards", "note": "客户被冒充客服诈骗，不是年费问题"})
    assert r.status_code == 200, r.text
    with api.store.begin() as conn:
        after = get_ticket(conn, t.ticket_id)
        events = get_events(conn, t.ticket_id)
        dispatches = [row for row in conn.execute(select(outbox.c.kind, outbox.c.target)
                                                  .where(outbox.c.ticket_id == t.ticket_id))]
    assert after is not None
    j = after.judgement
    assert (j.category.value if j.category else None, j.sub_category, j.urgency.value) == \
        ("info_security", "fraud", "urgent")
    assert j.corrected_by == "handler:zhang.wei" and not j.needs_review
    assert after.handling.team == "security" and after.handling.handler is not None
    assert "人工改判" in after.explanations["category"].reason
    kinds = [e.kind for e in events]
    assert kinds[-2:] == ["reclassified", "transferred"]
    changed = events[-2].data["changed"]
    assert changed["category"] == {"from": "product", "to": "info_security"} and "urgency" in changed
    assert any(d.kind == "dispatch" and d.target == "team:security" for d in dispatches)
    # the ticket left cards: 404 for its old team now
    assert cards_h.get(f"/api/v1/tickets/{t.ticket_id}").status_code == 404
    # a correction that changes nothing is refused
    r = cards_h.post(f"/api/v1/tickets/{other.ticket_id}/reclassify",
                     json={"urgency": "general", "note": "同原判"})
    assert r.status_code in (409, 422) and "changes nothing" in r.text

    # export: corpus format, PII scrubbed; training takes it in
    from hub.store import db

    db.use_store(api.store)
    try:
        from hub.judge.corrections import export_corrections, write_records

        with api.store.begin() as conn:
            records, skipped = export_corrections(conn)
    finally:
        db.use_store(None)
    out = tmp_path / "corrections.jsonl"
    write_records(records, out)
    assert [r.reason for r in records] == ["info_security"] and skipped == 0
    text = out.read_text(encoding="utf-8")
    assert PHONE not in text and ID_NUMBER not in text and "张三丰" not in text
    assert "冒充客服" in text
    back = load_corpus([out])  # the file is valid corpus input
    assert back[0].sub == "fraud" and back[0].urgency == "urgent"

    model = tmp_path / "model.json"
    proc = subprocess.run([*CLI, "judge", "train", "--out", str(model), "--corrections", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    base = load_model_file(Path("data/judge/model.json"))
    trained = load_model_file(model)
    assert trained.meta["records"] == base.meta["records"] + 1
    assert trained.version != base.version
    json.loads(model.read_text(encoding="utf-8"))  # JSON, no pickle

"""Personal data never shows raw in repr, JSON export or logs."""

from __future__ import annotations

import json
import logging

from core.logs import get_logger
from core.pii import get_vault, mask_id_number, mask_name, mask_phone, scrub_text
from core.schema import Customer, Matter, Ticket, make_ticket_id, utcnow

PHONE, IDN = "13812345678", "330102195001011234"


def _ticket() -> Ticket:
    return Ticket(ticket_id=make_ticket_id("sms", "1"), source="sms", external_id="1",
                  received_at=utcnow(), customer=Customer(name="张三丰", phone=PHONE, id_number=IDN),
                  matter=Matter(content="内容"))


def test_masks():
    assert mask_phone(PHONE) == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_id_number(IDN) == "3301**********1234"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"


def test_ticket_repr_json_and_log_hold_no_raw_pii(caplog):
    t = _ticket()
    for text in (repr(t), str(t), t.model_dump_json(), json.dumps(t.model_dump(mode="json"))):
        assert PHONE not in text and IDN not in text and "张三丰" not in text
    log = get_logger("hub.test")
    with caplog.at_level(logging.INFO):
        log.info("ticket %s from %s raw %s", t, t.customer.phone, f"call {PHONE} id {IDN}")
    assert caplog.text and PHONE not in caplog.text and IDN not in caplog.text
    assert "138****5678" in caplog.text


def test_reveal_only_on_request():
    t = _ticket()
    assert t.customer.phone.reveal() == PHONE
    assert t.model_dump(context={"reveal_pii": True})["customer"]["id_number"] == IDN


def test_scrub_free_text():
    s = scrub_text(f"电话{PHONE}，身份证{IDN}，座机021-55556666")
    assert PHONE not in s and IDN not in s and "55556666" not in s


def test_vault_roundtrip_and_keyed_hash():
    v = get_vault()
    token = v.encrypt(PHONE)
    assert PHONE.encode() not in token and v.decrypt(token) == PHONE
    assert v.hash("138 1234 5678") == v.hash(PHONE) != v.hash("13812345679")


def test_keyed_hash_is_plain_hmac_sha256_of_the_normalised_value():
    """The precomputed HMAC states give what the standard library's HMAC gives (stored hashes stay valid)."""
    import hmac

    v = get_vault()
    for raw, norm in [(PHONE, PHONE), ("138-1234 5678", PHONE), (IDN[:-1] + "x", IDN[:-1] + "X"),
                      ("+86 138 1234 5678", "86" + PHONE), ("张三丰", "张三丰"), ("ab\u3000c", "ABC")]:
        assert v.hash(raw) == hmac.digest(v._hash_key, norm.encode(), "sha256").hex()
    assert v.hash("- +") is None and v.hash("") is None

"""Sandbox plumbing for the outbox/chase end-to-end tests."""

from __future__ import annotations

import re
from typing import Any

from core.schema import Source

EXT_KEY = {"gov12315": "reg_no", "blackcat": "sn", "app": "id", "sms": "mo_id", "callcenter": "order_no"}
OPEN_STATE = {"gov12315": {"待处理", "处理中"}, "blackcat": {"审核通过", "处理中"}, "app": {"open", "processing"},
              "sms": None, "callcenter": {"10", "20"}}


def phone_of(source: str, p: dict[str, Any]) -> str | None:
    raw = {"gov12315": p.get("phone"), "blackcat": p.get("phone"), "app": (p.get("user") or {}).get("mobile"),
           "sms": p.get("mobile"), "callcenter": p.get("caller")}[source]
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    return digits if re.fullmatch(r"1\d{10}", digits) else None


def pick(sb: Any, source: str, taken: set[str] | None = None) -> tuple[str, str]:
    """(external id, mobile) of a sandbox complaint that still accepts a push-back."""
    taken = taken if taken is not None else set()
    truth = {(t["source"], t["external_id"]): t for t in sb.truth(source)}
    for p in sb.records(source):
        ext = p.get(EXT_KEY[source])
        t = truth.get((source, ext), {})
        if not ext or ext in taken or t.get("kind", "complaint") != "complaint" or t.get("malformed"):
            continue
        ok = OPEN_STATE[source]
        if ok is not None and str(p.get("status")) not in ok:
            continue
        phone = phone_of(source, p)
        if phone:
            taken.add(ext)
            return ext, phone
    raise AssertionError(f"no pushable {source} record in the sandbox")


def writes_for(sb: Any, source: str, ext: str) -> list[dict[str, Any]]:
    return [w for w in sb.writes(source) if w.get("external_id") == ext]


def sms_sends_to(sb: Any, phone: str) -> list[dict[str, Any]]:
    return [w for w in sb.writes("sms") if w.get("kind") == "send" and (w.get("data") or {}).get("mobile") == phone]


__all__ = ["EXT_KEY", "Source", "phone_of", "pick", "writes_for", "sms_sends_to"]

"""Helpers for the PII scan: the raw phone/ID numbers a sandbox generated, and a scanner."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sandbox import Sandbox

# payload keys holding a phone or an ID number, per source (docs/raw-records.md)
PII_KEYS = {"gov12315": ("phone", "id_number"), "blackcat": ("phone",), "app": ("user.mobile", "mobile"),
            "sms": ("mobile",), "callcenter": ("caller", "id_number")}
_FW = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")


def _get(payload: dict[str, Any], path: str) -> Any:
    cur: Any = payload
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def raw_numbers(sb: Sandbox) -> set[str]:
    """Every phone and ID number in the sandbox's records, as sent and in plain digits."""
    found: set[str] = set()
    for source, keys in PII_KEYS.items():
        for rec in sb.records(source):
            payload = rec.get("payload", rec)
            for key in keys:
                v = _get(payload, key)
                if not isinstance(v, str) or not v.strip():
                    continue
                plain = re.sub(r"[\s\-]", "", v.translate(_FW))
                if len(plain) >= 11:  # shorter junk (malformed records) is not a number to protect
                    found.add(plain)
                    if len(v.strip()) >= 11:
                        found.add(v.strip())
    return found


@dataclass
class Scan:
    """Collects texts by where they came from; `hits()` lists (where, number) pairs."""

    numbers: set[str]
    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, obj: Any) -> None:
        text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, default=str)
        self.texts.append((where, text))

    def hits(self) -> list[tuple[str, str]]:
        out = []
        for where, text in self.texts:
            squeezed = re.sub(r"[\s\-]", "", text)  # also catch "138 1234 5678" spelled with separators
            for n in self.numbers:
                if n in text or (n.isdigit() and n in squeezed and _digit_bounded(squeezed, n)):
                    out.append((where, n[:3] + "…" + n[-2:]))  # never print the number itself
        return out


def _digit_bounded(text: str, n: str) -> bool:
    """True when `n` occurs in `text` not as part of a longer digit run (no false hits in ids/hashes)."""
    for m in re.finditer(re.escape(n), text):
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if not before.isdigit() and not after.isdigit():
            return True
    return False

"""Shared helpers for the mapping tests: sample payloads and raw records."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.pii import get_vault
from core.schema import RawRecord

SAMPLES = Path(__file__).parent / "samples"
EXT_KEY = {"gov12315": "reg_no", "blackcat": "sn", "app": "id", "sms": "mo_id", "callcenter": "order_no"}


def samples(source: str) -> list[dict[str, Any]]:
    """Realistic payloads of one source (fresh copies: tests may mutate them)."""
    return copy.deepcopy(json.loads((SAMPLES / f"{source}.json").read_text(encoding="utf-8")))


def raw(source: str, payload: dict[str, Any], external_id: str | None = None) -> RawRecord:
    ext = external_id or str(payload.get(EXT_KEY[source]) or "missing-id")
    return RawRecord(source=source, external_id=ext, payload=payload)


def all_samples() -> list[RawRecord]:
    return [raw(s, p) for s in EXT_KEY for p in samples(s)]


#: the ingest time both mapping paths are given, so their rows can be compared
FIXED_NOW = datetime(2026, 11, 23, 8, 30, 15, 123456, tzinfo=UTC)


def comparable_row(row: dict[str, Any], pii: bytes | None) -> dict[str, Any]:
    """A `tickets` row as stored, its PII decrypted (tokens differ per encryption): for equality."""
    row = dict(row)
    enc = row.pop("pii_enc")
    plain = pii if pii is not None else (get_vault().decrypt_bytes(enc) if enc else None)
    row["pii"] = json.loads(plain) if plain else None
    row["data"] = json.loads(json.dumps(row["data"]))  # as stored: JSON types only
    return row

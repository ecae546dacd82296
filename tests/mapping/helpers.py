"""Shared helpers for the mapping tests: sample payloads and raw records."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hub.schema import RawRecord

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

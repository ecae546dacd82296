"""JSON on the hot paths: orjson where it can, the standard library where it cannot.

Every landed payload is serialised (to hash and to encrypt it) and every ticket
row carries a JSON document; `json` costs 3-5x what orjson does there. orjson
refuses a few things `json` accepts (integers beyond 64 bits, non-string keys):
those values take the standard-library path, so nothing that stored before fails now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS
_STD_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")).encode
_STD_TEXT = json.JSONEncoder(ensure_ascii=False).encode


def canonical(payload: Any) -> bytes:
    """Sorted-key compact UTF-8 JSON: the bytes a payload is hashed and encrypted as.

    The same bytes `json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))`
    gives for JSON data (floats aside, which both write as the shortest round trip).
    """
    try:
        return orjson.dumps(payload, option=_SORTED)
    except TypeError:  # a value orjson does not take: non-str keys, huge ints, odd objects (str()'d)
        return _STD_CANONICAL(payload).encode("utf-8")


def dumps(value: Any) -> str:
    """JSON text for a JSON column (the store's engines use it as their serializer)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return _STD_TEXT(value)


def plain(value: Any) -> Any:
    """`value` as JSON types only, others written `str(x)` (datetimes, Decimals, …): what
    `json.loads(json.dumps(value, default=str))` gives, for JSON columns of events and outbox rows."""
    try:
        return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_PASSTHROUGH_DATETIME))
    except TypeError:
        return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def loads(text: str | bytes) -> Any:
    """Parse JSON (the store's deserializer); numbers orjson cannot hold fall back to `json`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)

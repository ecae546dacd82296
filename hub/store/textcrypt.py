"""Free text of the timeline encrypted at rest: event notes and the text values in event data.

Notes (处理说明, transfer and extension reasons, replies) quote phone and ID numbers,
so `ticket_events.note` and the free-text values of `ticket_events.data` (`reply`,
`reason`, `answer`, `text`) are stored sealed with the PII vault's AES-256-GCM
(`core.pii.PiiVault`), as text: `aesgcm1:` + base64 of the token. Reading opens them;
a value without the prefix (a row written before this) is returned as it is.
"""

from __future__ import annotations

import base64
from typing import Any

from core.pii import PiiVault

PREFIX = "aesgcm1:"
#: keys of event data whose string values are free text
TEXT_KEYS = frozenset({"reply", "reason", "answer", "text"})


def seal(text: str | None, vault: PiiVault) -> str | None:
    """The stored form of a free text (None and "" stay as they are)."""
    if not text:
        return text
    return PREFIX + base64.b64encode(vault.encrypt_bytes(text.encode("utf-8"))).decode("ascii")


def unseal(value: str | None, vault: PiiVault) -> str | None:
    """The text of a stored value (sealed or, for older rows, plain)."""
    if not value or not value.startswith(PREFIX):
        return value
    return vault.decrypt_bytes(base64.b64decode(value[len(PREFIX):])).decode("utf-8")


def seal_data(data: dict[str, Any], vault: PiiVault, *, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Event data with its free-text values sealed (other values untouched); `extra`: more free-text keys."""
    keys = TEXT_KEYS.union(extra) if extra else TEXT_KEYS
    if not keys & data.keys():
        return data
    return {k: seal(v, vault) if k in keys and isinstance(v, str) else v for k, v in data.items()}


def unseal_data(data: dict[str, Any], vault: PiiVault, *, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Event data with its sealed values opened."""
    keys = TEXT_KEYS.union(extra) if extra else TEXT_KEYS
    if not keys & data.keys():
        return data
    return {k: unseal(v, vault) if k in keys and isinstance(v, str) else v for k, v in data.items()}

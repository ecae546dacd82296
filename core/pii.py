"""Personal data: encryption at rest, keyed hashes for matching, masking for display.

Phones, ID numbers and names travel inside the hub as `Phone`, `IdNumber` and
`PersonName` values. Their `str`, `repr` and default JSON form are *masked*
(`138****5678`, `3301**********1234`, `张*`); the raw value is reachable only
through `.reveal()` (or `model_dump(context={"reveal_pii": True})`), which the
store uses to encrypt it and the connectors use to talk to a source.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import GetCoreSchemaHandler, SerializationInfo
from pydantic_core import core_schema

from core.configfile import cached_config
from core.errors import ConfigError
from core.settings import get_settings

# --- masking -----------------------------------------------------------------

_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{7,8})(?!\d)")


def mask_phone(value: str) -> str:
    """`13812345678` → `138****5678`; landlines keep area code and last 4."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) >= 11 and digits[-11] == "1":
        d = digits[-11:]
        return f"{d[:3]}****{d[-4:]}"
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) > 8 else f"****{digits[-4:]}"
    return "****" if digits else ""


def mask_id_number(value: str) -> str:
    """`330102195001011234` → `3301**********1234`."""
    v = (value or "").strip()
    if len(v) < 8:
        return "*" * len(v)
    return f"{v[:4]}{'*' * (len(v) - 8)}{v[-4:]}"


def mask_name(value: str) -> str:
    """`张三` → `张*`, `欧阳娜娜` → `欧***`; Latin names keep the first letter."""
    v = (value or "").strip()
    if not v:
        return ""
    return v[0] + "*" * max(1, len(v) - 1)


#: `key:` markers after which an 11-digit number is a record id, not a phone (`keep_ids_after`)
_ID_MARKERS: set[str] = set()


def keep_ids_after(*keys: str) -> None:
    """Numbers written right after `key:` (e.g. `blackcat:17310000123`) are that system's record ids.

    A source whose ids look like mobile numbers (黑猫 complaint numbers are 11 digits
    starting with 17) declares it, so `scrub_text` shows its ids as ids. Only the exact
    `key:` marker keeps a number; the same digits anywhere else are still masked.
    """
    _ID_MARKERS.update(f"{k}:" for k in keys if k)


def _mask_mobile(m: re.Match[str]) -> str:
    head = m.string[max(0, m.start() - 40):m.start()]
    if _ID_MARKERS and any(head.endswith(marker) for marker in _ID_MARKERS):
        return m.group(0)
    return f"{m.group(1)}****{m.group(3)}"


def scrub_text(text: str | None) -> str:
    """Mask phone and ID numbers found inside free text (logs, notifications); record ids stay (`keep_ids_after`)."""
    if not text:
        return text or ""
    text = _ID18.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _MOBILE.sub(_mask_mobile, text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)[-4:]}", text)


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
#: card, account and order numbers: any run of 8+ digits (spaces or dashes inside allowed)
_LONG_NUMBER = re.compile(r"(?<![\d*])\d(?:[- ]?\d){7,}(?![\d*])")


def scrub_for_export(text: str | None, names: tuple[str, ...] = ()) -> str:
    """`scrub_text`, and more, for text that leaves the hub for good (corpus exports).

    Also hides e-mail addresses, every run of eight or more digits (cards, accounts, orders: the
    last four stay), and the given personal names wherever they appear.
    """
    out = scrub_text(text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        out = out.replace(name, "某某")
    out = _EMAIL.sub("***@***", out)
    return _LONG_NUMBER.sub(lambda m: "*" * 4 + re.sub(r"\D", "", m.group(0))[-4:], out)


# --- sensitive value types ---------------------------------------------------------


class _Sensitive:
    """A string that masks itself everywhere except `.reveal()`."""

    __slots__ = ("_raw",)
    kind = "pii"

    def __init__(self, raw: str):
        self._raw = raw

    def reveal(self) -> str:
        return self._raw

    def masked(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.masked()!r})"

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Sensitive) and type(other) is type(self) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._raw))

    def __bool__(self) -> bool:
        return bool(self._raw)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> _Sensitive:
            if isinstance(value, cls):
                return value
            if isinstance(value, _Sensitive):
                return cls(value.reveal())
            if isinstance(value, int | str):
                return cls(str(value).strip())
            raise ValueError(f"expected a string for {cls.__name__}")

        def serialize(value: _Sensitive, info: SerializationInfo) -> str:
            ctx = info.context or {}
            return value.reveal() if ctx.get("reveal_pii") else value.masked()

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(serialize, info_arg=True),
            json_schema_input_schema=core_schema.str_schema(),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "description": f"{cls.kind}, masked unless revealed"}


class Phone(_Sensitive):
    """A phone number that shows itself masked (`138****5678`)."""

    kind = "phone"

    def masked(self) -> str:
        """The masked form (see `mask_phone`)."""
        return mask_phone(self._raw)


class IdNumber(_Sensitive):
    """A resident ID number that shows itself masked (`3301**********1234`)."""

    kind = "id_number"

    def masked(self) -> str:
        """The masked form (see `mask_id_number`)."""
        return mask_id_number(self._raw)


class PersonName(_Sensitive):
    """A person's name that shows itself masked (`张*`)."""

    kind = "name"

    def masked(self) -> str:
        """The masked form (see `mask_name`)."""
        return mask_name(self._raw)



# --- keys, encryption, hashing ---------------------------------------------------


def _load_or_create_key() -> bytes:
    settings = get_settings()
    if settings.pii_key is not None:
        key = settings.pii_key.get_secret_value().encode()
    else:
        path: Path = settings.key_file
        if path.exists():
            key = path.read_bytes().strip()
        else:
            # Embedded default only: a production deployment sets HUB_PII_KEY.
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Fernet.generate_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
    try:
        Fernet(key)
    except (ValueError, TypeError) as exc:
        raise ConfigError("HUB_PII_KEY is not a valid Fernet key (32 url-safe base64 bytes)",
                          hint="generate one with: python -c 'from cryptography.fernet import Fernet;"
                               " print(Fernet.generate_key().decode())'") from exc
    return key


#: marks an AES-256-GCM token (v2). Fernet tokens (v1) are url-safe base64 text and
#: always start with "gAAAAA", so a control byte can never be confused with one.
_GCM_PREFIX = b"\x02"
_NONCE = 12
_HASH_STRIP = re.compile(r"[\s\-+]")


class PiiVault:
    """Encrypts PII for storage and derives the keyed hash used for matching.

    New tokens are AES-256-GCM (`\x02` + 12-byte nonce + ciphertext and tag): about
    15x cheaper than Fernet per call, which matters on the ingest path (every raw
    record and every ticket's PII). Tokens written by earlier versions (Fernet)
    still decrypt: the prefix tells the two apart.
    """

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)
        raw = base64.urlsafe_b64decode(key)
        # Separate sub-keys for hashing and for AES-GCM, so neither reveals the other.
        self._hash_key = hmac.new(raw, b"hub-pii-hash-v1", hashlib.sha256).digest()
        # HMAC-SHA256's two keyed states (RFC 2104: the 32-byte key padded to the 64-byte block,
        # XOR ipad / opad), made once: a hash is then two state copies, a third of what
        # OpenSSL's one-shot HMAC costs per call (every phone and ID number at ingest)
        block = self._hash_key.ljust(64, b"\0")
        self._hmac_inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._hmac_outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        self._gcm = AESGCM(hmac.new(raw, b"hub-pii-aesgcm-v2", hashlib.sha256).digest())

    def encrypt(self, value: str | _Sensitive | None) -> bytes | None:
        """Encrypt a text (or a sensitive value's raw text) for storage; None stays None."""
        if value is None:
            return None
        raw = value.reveal() if isinstance(value, _Sensitive) else value
        return self.encrypt_bytes(raw.encode("utf-8"))

    def decrypt(self, token: bytes | None) -> str | None:
        """Decrypt a stored token back to text; ConfigError when the key does not fit."""
        if token is None:
            return None
        try:
            return self._decrypt(token).decode("utf-8")
        except (InvalidToken, InvalidTag, ValueError) as exc:
            raise ConfigError("cannot decrypt stored personal data: HUB_PII_KEY differs from the key"
                              " the data was written with") from exc

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Encrypt bytes as a v2 token: AES-256-GCM with a random 12-byte nonce."""
        nonce = os.urandom(_NONCE)  # random 96-bit nonces: safe far beyond this hub's volumes per key
        return _GCM_PREFIX + nonce + self._gcm.encrypt(nonce, data, None)

    def encrypt_many(self, items: list[bytes]) -> list[bytes]:
        """`encrypt_bytes` for a batch (one urandom call for all nonces)."""
        pool = os.urandom(_NONCE * len(items))
        enc, out = self._gcm.encrypt, []
        for i, data in enumerate(items):
            nonce = pool[i * _NONCE:(i + 1) * _NONCE]
            out.append(_GCM_PREFIX + nonce + enc(nonce, data, None))
        return out

    def _decrypt(self, token: bytes) -> bytes:
        if not isinstance(token, bytes):
            token = bytes(token)  # a driver may hand back memoryview
        if token[:1] == _GCM_PREFIX:
            return self._gcm.decrypt(token[1:1 + _NONCE], token[1 + _NONCE:], None)
        return self._fernet.decrypt(token)  # v1 token, written before AES-GCM

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Decrypt a v2 (AES-GCM) or v1 (Fernet) token; ConfigError when the key does not fit."""
        try:
            return self._decrypt(token)
        except (InvalidToken, InvalidTag, ValueError) as exc:
            raise ConfigError("cannot decrypt stored data: wrong HUB_PII_KEY") from exc

    def hash(self, value: str | _Sensitive | None) -> str | None:
        """HMAC-SHA256 of the normalised value (digits only for phones), hex."""
        if value is None:
            return None
        raw = value.reveal() if isinstance(value, _Sensitive) else value
        norm = (raw if raw.isalnum() else _HASH_STRIP.sub("", raw)).upper()  # normalised phones: no regex
        if not norm:
            return None
        inner = self._hmac_inner.copy()
        inner.update(norm.encode("utf-8"))
        outer = self._hmac_outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@cached_config
def get_vault() -> PiiVault:
    """The process's vault (key from HUB_PII_KEY or var/pii.key)."""
    return PiiVault(_load_or_create_key())

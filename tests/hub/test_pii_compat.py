"""Encryption at rest: AES-GCM tokens now, and data written earlier with Fernet still reads."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import ConfigError
from core.pii import PiiVault, get_vault
from core.schema import RawRecord
from hub.store import landing
from hub.store.tables import raw_records


def test_new_tokens_are_aes_gcm_and_fernet_tokens_still_decrypt():
    v = get_vault()
    token = v.encrypt_bytes(b"13812345678")
    assert token[:1] == b"\x02" and b"13812345678" not in token
    assert v.decrypt_bytes(token) == b"13812345678"
    legacy = v._fernet.encrypt(b"13812345678")  # what the vault wrote before AES-GCM
    assert v.decrypt_bytes(legacy) == b"13812345678"
    assert [v.decrypt_bytes(t) for t in v.encrypt_many([b"a", b"bc"])] == [b"a", b"bc"]


def test_tampered_or_foreign_token_is_a_config_error():
    v = get_vault()
    token = bytearray(v.encrypt_bytes(b"secret"))
    token[-1] ^= 1
    with pytest.raises(ConfigError):
        v.decrypt_bytes(bytes(token))
    other = PiiVault(b"q3xXbq2m7iIuD6Z2V0FjmE2mTtY1o0y2Zbq5xP2d0qU=")
    if other._hash_key != v._hash_key:  # a different key cannot read it
        with pytest.raises(ConfigError):
            other.decrypt_bytes(v.encrypt_bytes(b"secret"))


def test_raw_record_landed_with_fernet_is_still_normalisable(store):
    landing.land(store, "app", [RawRecord(source="app", external_id="X1",
                                               payload={"id": "X1", "mobile": "13812345678"})], None)
    with store.begin() as conn:  # rewrite the stored token the way the Fernet-era vault wrote it
        conn.execute(raw_records.update().values(
            payload_enc=get_vault()._fernet.encrypt(b'{"id":"X1","mobile":"13812345678"}')))
        assert conn.execute(select(raw_records.c.payload_enc)).scalar()[:1] != b"\x02"
        (_rid, rec), = landing.pending_raw(conn)
    assert rec.payload == {"id": "X1", "mobile": "13812345678"} and rec.source == "app"

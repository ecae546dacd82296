"""Every HTTP client of the hub shares one verifying TLS context (building one costs ~20 ms)."""

from __future__ import annotations

import ssl

from connectors.http import HttpClient
from core.tls import verifying_context


async def test_clients_share_one_verifying_context() -> None:
    ctx = verifying_context()
    assert ctx is verifying_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname  # verification stays on
    assert ctx.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded
    a, b = HttpClient("app", "https://a.example"), HttpClient("sms", "https://b.example")
    try:
        pools = [c._client._transport._pool for c in (a, b)]  # httpx's connection pools
        assert all(p._ssl_context is ctx for p in pools)
    finally:
        await a.aclose()
        await b.aclose()

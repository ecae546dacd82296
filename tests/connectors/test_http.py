"""The shared HTTP layer against a real local server: retries, Retry-After, bounds, redaction, auth."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr

from connectors.auth import CallCenterSigner, OAuth2ClientCredentials, SmsHmacSigner
from connectors.http import HttpClient, Timeouts, TokenBucket, rule_for_exception
from connectors.redact import Redactor
from connectors.retry import RetryPolicy, parse_retry_after, rule_for_status
from core.errors import AuthError, ConfigError, PushRefused, SourceAnswerError, TransientError
from tests.connectors.localserver import LocalServer

FAST = RetryPolicy(attempts=4, total_seconds=10, backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture(scope="module")
def server():
    srv = LocalServer()
    url = srv.start()
    srv.url = url
    yield srv
    srv.stop()


def client(server, **kw) -> HttpClient:
    kw.setdefault("retry", FAST)
    return HttpClient("app", server.url, **kw)


async def test_5xx_then_success_is_retried(server):
    c = client(server)
    doc = await c.get_json("flaky", params={"key": "a", "fail": 2, "code": 502})
    assert doc == {"ok": True, "calls": 3}
    assert c.stats.retries == 2 and c.stats.statuses[502] == 2
    await c.aclose()


async def test_429_honours_retry_after(server):
    c = client(server)
    t0 = time.monotonic()
    doc = await c.get_json("flaky", params={"key": "b", "fail": 1, "code": 429, "retry_after": 1})
    assert doc["calls"] == 2
    gap = [s["t"] for s in server.behaviour.seen if s["query"].get("key") == "b"]
    assert gap[1] - gap[0] >= 0.95, "Retry-After: 1 must be waited"
    assert time.monotonic() - t0 < 3
    await c.aclose()


async def test_attempts_are_bounded(server):
    c = client(server, retry=RetryPolicy(attempts=3, total_seconds=10, backoff_initial=0.01, backoff_max=0.02))
    with pytest.raises(TransientError) as ei:
        await c.get_json("flaky", params={"key": "c", "fail": 100, "code": 500})
    assert server.behaviour.calls["c"] == 3
    assert "gave up after 3 attempts" in str(ei.value)
    await c.aclose()


async def test_total_time_is_bounded_even_when_server_asks_to_wait_longer(server):
    c = client(server, retry=RetryPolicy(attempts=10, total_seconds=1.0, backoff_initial=0.01))
    t0 = time.monotonic()
    with pytest.raises(TransientError):
        await c.get_json("flaky", params={"key": "d", "fail": 100, "code": 429, "retry_after": 5})
    assert time.monotonic() - t0 < 1.0
    assert server.behaviour.calls["d"] == 1


@pytest.mark.parametrize(("code", "error", "on_write"), [
    (400, ConfigError, ConfigError), (403, AuthError, AuthError), (404, SourceAnswerError, PushRefused),
    (422, SourceAnswerError, PushRefused)])
async def test_permanent_errors_are_not_retried(server, code, error, on_write):
    c = client(server)
    key = f"perm{code}"
    with pytest.raises(error) as ei:
        await c.get_json("flaky", params={"key": key, "fail": 5, "code": code})
    assert server.behaviour.calls[key] == 1
    assert f"HTTP {code}" in str(ei.value) and ei.value.status_code == code and not ei.value.retryable
    # the same refusal of a write: the update is refused for good (its outbox row goes dead)
    with pytest.raises(on_write) as ei:
        await c.request("POST", "flaky", params={"key": f"w{key}", "fail": 5, "code": code}, json={"a": 1})
    assert server.behaviour.calls[f"w{key}"] == 1 and ei.value.status_code == code
    await c.aclose()


async def test_post_retried_only_when_the_source_cannot_have_processed_it(server):
    c = client(server)
    with pytest.raises(TransientError):
        await c.request("POST", "flaky", params={"key": "p500", "fail": 1, "code": 500}, json={"a": 1})
    assert server.behaviour.calls["p500"] == 1  # outcome unknown: no blind retry of a POST
    resp = await c.request("POST", "flaky", params={"key": "p503", "fail": 1, "code": 503}, json={"a": 1})
    assert resp.status_code == 200 and server.behaviour.calls["p503"] == 2
    await c.aclose()


async def test_read_timeout_is_transient_and_bounded(server):
    c = client(server, timeouts=Timeouts(read=0.2), retry=RetryPolicy(attempts=2, total_seconds=5,
                                                                       backoff_initial=0.01))
    with pytest.raises(TransientError) as ei:
        await c.get_json("slow", params={"key": "s1", "seconds": 1})
    assert "ReadTimeout" in str(ei.value) and server.behaviour.calls["s1"] == 2
    await c.aclose()


async def test_connect_error_is_transient():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    c = HttpClient("sms", f"http://127.0.0.1:{port}", retry=FAST)
    with pytest.raises(TransientError) as ei:
        await c.get_json("x")
    assert "ConnectError" in str(ei.value) and c.stats.requests == 4
    await c.aclose()


async def test_secrets_and_pii_are_redacted_from_errors(server):
    c = client(server, redactor=Redactor(["my-client-secret"]))
    with pytest.raises(ConfigError) as ei:
        await c.get_json("flaky", params={"key": "r", "fail": 1, "code": 400, "sign": "abc123",
                                          "q": "my-client-secret"})
    msg = str(ei.value)
    assert "leaky-secret-token" not in msg and "my-client-secret" not in msg and "abc123" not in msg
    assert "access_token" in msg  # the key stays, the value goes
    with pytest.raises(TransientError) as ei2:
        await c.get_json("garbled")
    assert "13812345678" not in str(ei2.value) and "138****5678" in str(ei2.value)
    await c.aclose()


async def test_oauth_token_cached_refreshed_on_401_and_bad_secret_fails_fast(server):
    auth = OAuth2ClientCredentials("app", f"{server.url}/oauth/token", "cid", SecretStr("s3cret-value"))
    c = client(server, auth=auth)
    for _ in range(3):
        assert (await c.get_json("protected"))["ok"]
    assert server.behaviour.token_fetches == 1
    server.behaviour.valid_tokens.clear()  # the source expires every token
    doc = await c.get_json("protected")
    assert doc["token"] == "tok2" and c.stats.reauths == 1
    await c.aclose()

    bad = OAuth2ClientCredentials("app", f"{server.url}/oauth/token", "cid", SecretStr("wrong-secret"))
    c2 = client(server, auth=bad)
    before = server.behaviour.calls["protected"]
    with pytest.raises(AuthError) as ei:
        await c2.get_json("protected")
    assert "invalid_client" in str(ei.value) and "wrong-secret" not in str(ei.value)
    assert server.behaviour.calls["protected"] == before  # never reached the API
    await c2.aclose()


async def test_oauth_token_refreshed_before_it_expires(server):
    server.behaviour.token_ttl = 1
    try:
        auth = OAuth2ClientCredentials("app", f"{server.url}/oauth/token", "cid", SecretStr("s3cret-value"))
        c = client(server, auth=auth)
        first = (await c.get_json("protected"))["token"]
        assert (await c.get_json("protected"))["token"] == first
        await asyncio.sleep(1.05)
        second = (await c.get_json("protected"))["token"]
        assert second != first and auth.fetches == 2 and c.stats.reauths == 0  # no 401 needed
        await c.aclose()
    finally:
        server.behaviour.token_ttl = 3600


async def test_persistent_401_reauths_once_then_fails(server):
    auth = OAuth2ClientCredentials("app", f"{server.url}/oauth/token", "cid", SecretStr("s3cret-value"))
    c = client(server, auth=auth)
    with pytest.raises(AuthError):
        await c.get_json("flaky", params={"key": "u", "fail": 100, "code": 401})
    assert server.behaviour.calls["u"] == 2
    await c.aclose()


async def test_token_bucket_limits_rate(server):
    c = client(server, rate_limit=TokenBucket(20, burst=1))
    t0 = time.monotonic()
    for _ in range(11):
        await c.get_json("flaky", params={"key": "rl"})
    assert time.monotonic() - t0 >= 0.45
    await c.aclose()


def test_policy_table_and_retry_after_parsing():
    import httpx

    assert rule_for_status(200) is None
    assert rule_for_status(429).error.retryable and not rule_for_status(429).outcome_unknown
    assert rule_for_status(502).error.retryable and rule_for_status(502).outcome_unknown
    assert rule_for_status(408).error is TransientError
    assert rule_for_status(418).error is ConfigError
    assert rule_for_status(302).error is ConfigError
    assert rule_for_status(404).error_for(read=True) is SourceAnswerError
    assert rule_for_status(404).error_for(read=False) is PushRefused
    assert not rule_for_exception(httpx.ConnectError("x")).outcome_unknown
    assert rule_for_exception(httpx.ReadTimeout("x")).outcome_unknown
    assert parse_retry_after("3") == 3.0
    future = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < parse_retry_after(format_datetime(future, usegmt=True)) <= 31
    assert parse_retry_after("soon") is None


def test_signers_match_the_documented_schemes():
    import base64
    import hashlib
    import hmac

    sms = SmsHmacSigner("sms", "AK1", SecretStr("sec"))
    h = sms.headers("GET", "/v1/sms/mo?cursor=a&limit=1", b"", timestamp=1700000000, nonce="n1")
    expect = "GET\n/v1/sms/mo?cursor=a&limit=1\n1700000000\nn1\n" + hashlib.sha256(b"").hexdigest()
    assert h["X-Signature"] == base64.b64encode(hmac.new(b"sec", expect.encode(), hashlib.sha256).digest()).decode()
    cc = CallCenterSigner("callcenter", "app1", SecretStr("sec"))
    h2 = cc.headers("POST", "/api/x", '{"a":"中"}'.encode(), millis=1700000000000)
    raw = 'app11700000000000POST/api/x{"a":"中"}'
    assert h2["X-CC-Sign"] == hmac.new(b"sec", raw.encode(), hashlib.sha256).hexdigest().upper()

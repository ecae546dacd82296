"""Authentication schemes of the API sources, as `RequestAuth` hooks of the HTTP layer.

- `OAuth2ClientCredentials` (app): fetches a bearer token, caches it until shortly
  before `expires_in`, and drops it when the source answers 401 so the HTTP layer
  retries once with a fresh token.
- `SmsHmacSigner` (SMS gateway): `X-Access-Key/X-Timestamp/X-Nonce/X-Signature`,
  base64 HMAC-SHA256 over method, path+query, timestamp, nonce and sha256(body).
- `CallCenterSigner` (CTI): `X-CC-AppId/X-CC-Time/X-CC-Sign`, upper-hex HMAC-SHA256
  over app_id + time(ms) + method + path+query + body text, no separators.

Signers run on every attempt (the HTTP layer rebuilds the request), so a retry
carries a fresh timestamp and nonce and is never refused as a replay.
Secrets stay `SecretStr` until the moment a signature or token request is built.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid

import httpx
from pydantic import SecretStr

from connectors.retry import parse_retry_after
from core.errors import AuthError, ConfigError, TransientError
from core.logs import get_logger
from core.tls import verifying_context

log = get_logger(__name__)


def _require(value: SecretStr | str | None, what: str, source: str) -> str:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not raw:
        raise ConfigError(f"{what} is not configured", source=source,
                          hint="set the credential reference in config/sources.yaml or its environment variable")
    return raw


class OAuth2ClientCredentials:
    """OAuth2 client-credentials grant with a cached token, refreshed on expiry and on 401."""

    def __init__(self, source: str, token_url: str, client_id: str, client_secret: SecretStr, *,
                 scope: str | None = None, expiry_margin: float = 30.0, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.source = source
        self.token_url = token_url
        self.client_id = _require(client_id, "client_id", source)
        self._secret = SecretStr(_require(client_secret, "client_secret", source))
        self.scope = scope
        self.expiry_margin = expiry_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, verify=verifying_context())
        #: tokens fetched in this process (tests read it)
        self.fetches = 0

    def secrets(self) -> list[str]:
        """The client secret and the current token, for the redactor to hide."""
        return [self._secret.get_secret_value()] + ([self._token] if self._token else [])

    async def token(self) -> str:
        """A valid access token, fetched when missing or about to expire."""
        async with self._lock:  # one refresh even when many requests notice expiry at once
            if self._token is None or time.monotonic() >= self._expires_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def apply(self, request: httpx.Request) -> None:
        """Put the bearer token on this attempt (fetching a fresh one when needed)."""
        request.headers["Authorization"] = f"Bearer {await self.token()}"

    async def on_unauthorized(self) -> bool:
        """Drop the cached token after a 401 so the retry fetches a new one; always True."""
        async with self._lock:
            self._token = None
        return True

    async def aclose(self) -> None:
        """Close the token endpoint's HTTP client."""
        await self._http.aclose()

    async def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self._secret.get_secret_value()}
        if self.scope:
            form["scope"] = self.scope
        try:
            resp = await self._http.post(self.token_url, data=form)
        except httpx.HTTPError as exc:
            raise TransientError(f"token endpoint unreachable: {type(exc).__name__}", source=self.source) from None
        if resp.status_code in (400, 401, 403):
            err = _oauth_error(resp)
            raise AuthError(f"token request refused (HTTP {resp.status_code}, {err})", source=self.source)
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise TransientError(f"token endpoint answered HTTP {resp.status_code}", source=self.source,
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        if resp.status_code != 200:
            raise ConfigError(f"token endpoint answered HTTP {resp.status_code}", source=self.source)
        try:
            doc = resp.json()
            token = str(doc["access_token"])
            ttl = float(doc.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise AuthError("token endpoint answered without an access_token", source=self.source) from None
        self._token = token
        self._expires_at = time.monotonic() + max(1.0, ttl - min(self.expiry_margin, ttl / 2))
        self.fetches += 1
        log.info("%s: new access token, valid %.0fs", self.source, ttl)


def _oauth_error(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error", "unknown"))
    except ValueError:
        return "unknown"


class _SignerBase:
    source: str
    _secret: SecretStr

    def secrets(self) -> list[str]:
        return [self._secret.get_secret_value()]

    async def aclose(self) -> None:
        """Nothing to release: a signer holds no connection."""

    async def on_unauthorized(self) -> bool:
        # A signed scheme has nothing to refresh; a fresh signature is made on retry
        # anyway, so one more attempt may help when the refusal was a stale timestamp.
        return True


def _target(request: httpx.Request) -> str:
    """The request target exactly as sent (path + query), as both schemes sign it."""
    return request.url.raw_path.decode("ascii")


class SmsHmacSigner(_SignerBase):
    """The SMS gateway's signature: base64(HMAC-SHA256(secret, string_to_sign))."""

    def __init__(self, source: str, access_key: str, secret: SecretStr):
        self.source = source
        self.access_key = _require(access_key, "access_key", source)
        self._secret = SecretStr(_require(secret, "secret", source))

    def headers(self, method: str, target: str, body: bytes, *, timestamp: int | None = None,
                nonce: str | None = None) -> dict[str, str]:
        """The four signature headers for one request."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or uuid.uuid4().hex
        to_sign = "\n".join([method.upper(), target, ts, nonce, hashlib.sha256(body).hexdigest()])
        digest = hmac.new(self._secret.get_secret_value().encode(), to_sign.encode("utf-8"), hashlib.sha256).digest()
        return {"X-Access-Key": self.access_key, "X-Timestamp": ts, "X-Nonce": nonce,
                "X-Signature": base64.b64encode(digest).decode("ascii")}

    async def apply(self, request: httpx.Request) -> None:
        """Sign this attempt afresh (new timestamp and nonce) with the gateway's four headers."""
        request.headers.update(self.headers(request.method, _target(request), request.content))


class CallCenterSigner(_SignerBase):
    """The CTI's signature: UPPER_HEX(HMAC-SHA256(secret, app_id + ms + METHOD + target + body))."""

    def __init__(self, source: str, app_id: str, app_secret: SecretStr):
        self.source = source
        self.app_id = _require(app_id, "app_id", source)
        self._secret = SecretStr(_require(app_secret, "app_secret", source))

    def headers(self, method: str, target: str, body: bytes, *, millis: int | None = None) -> dict[str, str]:
        """The three signature headers for one request."""
        ms = str(millis if millis is not None else int(time.time() * 1000))
        to_sign = self.app_id + ms + method.upper() + target + body.decode("utf-8")
        sign = hmac.new(self._secret.get_secret_value().encode(), to_sign.encode("utf-8"), hashlib.sha256)
        return {"X-CC-AppId": self.app_id, "X-CC-Time": ms, "X-CC-Sign": sign.hexdigest().upper()}

    async def apply(self, request: httpx.Request) -> None:
        """Sign this attempt afresh (new millisecond time) with the CTI's three headers."""
        request.headers.update(self.headers(request.method, _target(request), request.content))

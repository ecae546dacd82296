"""The shared HTTP layer of the API connectors (app, sms, callcenter, and any new API source).

One `HttpClient` per connector: an httpx client with timeouts and connection
limits, a per-source token bucket, request signing/authentication through a
`RequestAuth` hook (re-applied on every attempt, so signatures carry a fresh
timestamp and nonce), and the retry rules of `connectors.retry`: what a status or
a transport failure means, and how often and how long to try again.

Every error message and log line passes through a `Redactor` (`connectors.redact`),
so an exception can be printed to an operator as it is.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from connectors.redact import Redactor
from connectors.retry import (
    BAD_URL,
    LOST_ANSWER,
    NEVER_SENT,
    RetryPolicy,
    Rule,
    is_retryable,
    parse_retry_after,
    retrying,
    rule_for_status,
)
from core import jsonutil
from core.errors import ConfigError, HubError, TransientError
from core.logs import get_logger
from core.tls import verifying_context

log = get_logger(__name__)

#: httpx transport failures onto the table's rows (first match wins: subclasses first)
EXCEPTION_POLICY: list[tuple[type[Exception], Rule]] = [
    (httpx.ConnectTimeout, NEVER_SENT),
    (httpx.ConnectError, NEVER_SENT),
    (httpx.PoolTimeout, NEVER_SENT),  # never sent: our own pool was full
    (httpx.TimeoutException, LOST_ANSWER),  # read/write timeouts
    (httpx.NetworkError, LOST_ANSWER),  # read/write/close errors
    (httpx.RemoteProtocolError, LOST_ANSWER),  # server dropped the connection mid-answer
    (httpx.UnsupportedProtocol, BAD_URL),
    (httpx.InvalidURL, BAD_URL),
]
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def rule_for_exception(exc: BaseException) -> Rule | None:
    """The policy row for a transport exception (None = not an HTTP transport failure)."""
    for cls, rule in EXCEPTION_POLICY:
        if isinstance(exc, cls):
            return rule
    return None


@dataclass(frozen=True)
class Timeouts:
    """httpx timeouts, in seconds."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0

    def httpx(self) -> httpx.Timeout:
        """The httpx form."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class TokenBucket:
    """Per-source request rate limit: `rate` tokens per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int = 1):
        if rate <= 0:
            raise ConfigError("rate_limit must be > 0 requests per second")
        self.rate = rate
        self.capacity = max(1, burst)
        self._tokens = float(self.capacity)
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Take one token, sleeping until one is available. Returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # FIFO-ish: one waiter refills at a time
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                need = (1 - self._tokens) / self.rate
                waited += need
                await asyncio.sleep(need)


class RequestAuth(Protocol):
    """Authentication hook: applied to every attempt; told once when the source says 401."""

    async def apply(self, request: httpx.Request) -> None:
        """Add credentials (a token, a signature) to this attempt of the request."""

    async def on_unauthorized(self) -> bool:
        """Drop cached credentials; True if a fresh attempt may succeed."""

    def secrets(self) -> list[str]:
        """Secret values to redact from errors and logs."""

    async def aclose(self) -> None:
        """Release the hook's own clients (a token endpoint's)."""


@dataclass
class HttpStats:
    """Counters for run reports, tests and benchmarks."""

    requests: int = 0
    retries: int = 0
    reauths: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    slept: float = 0.0

    def summary(self) -> dict[str, int | float]:
        """Cumulative counters for a page's `stats` (run reports)."""
        return {"http_requests": self.requests, "http_retries": self.retries, "http_reauths": self.reauths,
                "http_slept_s": round(self.slept, 3)}


class HttpClient:
    """httpx + the retry rules + rate limit + auth + redaction for one source."""

    def __init__(self, source: str, base_url: str, *, timeouts: Timeouts | None = None,
                 retry: RetryPolicy | None = None, rate_limit: TokenBucket | None = None,
                 auth: RequestAuth | None = None, redactor: Redactor | None = None,
                 max_connections: int = 10, headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url {base_url!r} is not an http(s) URL", source=source,
                              hint="set base_url in config/sources.yaml or HUB_SOURCE_URLS")
        self.source = source
        self.retry = retry or RetryPolicy()
        self.rate_limit = rate_limit
        self.auth = auth
        self.redact = redactor or Redactor()
        if auth is not None:
            for s in auth.secrets():
                self.redact.add(s)
        self.stats = HttpStats()
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", timeout=(timeouts or Timeouts()).httpx(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": "complaint-hub/0.1", **(headers or {})}, transport=transport,
            follow_redirects=False, verify=verifying_context())

    @property
    def base_url(self) -> str:
        """The base URL requests are relative to (with a trailing slash)."""
        return str(self._client.base_url)

    async def aclose(self) -> None:
        """Close the connection pool (and the auth hook's own client)."""
        await self._client.aclose()
        if self.auth is not None:
            await self.auth.aclose()

    # -- public request helpers --

    async def request(self, method: str, path: str, *, params: dict[str, str | int | None] | None = None,
                      json: Any = None, headers: dict[str, str] | None = None,
                      idempotent: bool | None = None, authenticate: bool = True,
                      data: dict[str, str] | None = None) -> httpx.Response:
        """Send one logical request under the retry rules; return the successful response.

        `idempotent` defaults to True for GET/HEAD/PUT/DELETE and False for POST/PATCH;
        a non-idempotent request is retried only where the table says the source
        cannot have processed it (`outcome_unknown` is false).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        body = None
        if json is not None:
            # Serialise once so the bytes signed are the bytes sent, on every attempt.
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json", **(headers or {})}
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        reauthed = False

        async def attempt() -> httpx.Response:
            """One attempt: rate limit, build, authenticate, send; re-authenticate once on a 401."""
            nonlocal reauthed
            while True:
                if self.rate_limit is not None:
                    self.stats.slept += await self.rate_limit.acquire()
                req = self._client.build_request(method, path.lstrip("/"), params=clean_params or None,
                                                 content=body, data=data, headers=headers)
                if authenticate and self.auth is not None:
                    try:
                        await self.auth.apply(req)  # a token endpoint's TransientError: same rules as the call
                    finally:
                        for sec in self.auth.secrets():  # a fresh token is a new secret to hide
                            self.redact.add(sec)
                self.stats.requests += 1
                try:
                    resp = await self._client.send(req)
                except Exception as exc:  # noqa: BLE001 - classified by the policy table
                    raise self._transport_error(exc, req) from None
                self.stats.statuses[resp.status_code] = self.stats.statuses.get(resp.status_code, 0) + 1
                if resp.status_code == 401 and authenticate and self.auth is not None and not reauthed:
                    # Token expired or session dropped: re-authenticate once, at once.
                    reauthed = True
                    self.stats.reauths += 1
                    if await self.auth.on_unauthorized():
                        log.info("%s: 401 from %s, re-authenticated", self.source, self.redact.url(req.url))
                        continue
                rule = rule_for_status(resp.status_code)
                if rule is None:
                    return resp
                raise self._status_error(rule, resp)

        def may_retry(exc: BaseException) -> bool:
            """Retryable, and for a non-idempotent request only when the source cannot have acted on it."""
            return is_retryable(exc) and (idempotent or not (isinstance(exc, TransientError) and exc.outcome_unknown))

        return await retrying(attempt, policy=self.retry, what=f"{method} {path}", source=self.source,
                              retry_on=may_retry, sleep=self._sleep)

    async def get_json(self, path: str, *, params: dict[str, str | int | None] | None = None,
                       headers: dict[str, str] | None = None) -> Any:
        """GET and decode a JSON body (a body that is not JSON is a transient fault)."""
        resp = await self.request("GET", path, params=params, headers=headers)
        return self.decode(resp)

    async def post_json(self, path: str, json: Any, *, headers: dict[str, str] | None = None,
                        idempotent: bool | None = None, params: dict[str, str | int | None] | None = None
                        ) -> Any:
        """POST a JSON body and decode the JSON answer."""
        resp = await self.request("POST", path, json=json, headers=headers, idempotent=idempotent,
                                  params=params)
        return self.decode(resp)

    def decode(self, resp: httpx.Response) -> Any:
        """The JSON body of a response; a garbled body is reported (redacted) as transient."""
        if not resp.content:
            return None
        try:
            return jsonutil.loads(resp.content)  # orjson: every pulled record passes through here
        except ValueError:
            raise TransientError(f"{resp.request.method} {self.redact.url(resp.request.url)} returned a body "
                                 f"that is not JSON: {self.redact(resp.text[:200])!r}", source=self.source,
                                 outcome_unknown=resp.request.method not in READS) from None

    # -- internals --

    def _status_error(self, rule: Rule, resp: httpx.Response) -> HubError:
        req = resp.request
        snippet = self.redact(resp.text[:300]) if resp.content else ""
        msg = (f"{req.method} {self.redact.url(req.url)} → HTTP {resp.status_code} ({rule.why})"
               + (f": {snippet}" if snippet else ""))
        error = rule.error_for(read=req.method in READS)
        if error is TransientError:
            return TransientError(msg, source=self.source, status_code=resp.status_code,
                                  retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                                  outcome_unknown=rule.outcome_unknown)
        return error(msg, source=self.source, status_code=resp.status_code)

    def _transport_error(self, exc: Exception, req: httpx.Request) -> Exception:
        rule = rule_for_exception(exc)
        if rule is None:
            return exc  # a programming error: let it surface unchanged
        msg = f"{req.method} {self.redact.url(req.url)} failed: {type(exc).__name__} ({rule.why})"
        detail = self.redact(str(exc))
        if detail:
            msg += f": {detail[:200]}"
        if rule.error is TransientError:
            return TransientError(msg, source=self.source, outcome_unknown=rule.outcome_unknown)
        return rule.error(msg, source=self.source)

    async def _sleep(self, seconds: float) -> None:
        self.stats.retries += 1
        self.stats.slept += seconds
        await asyncio.sleep(seconds)

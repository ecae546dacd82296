"""The shared HTTP layer of the API connectors (app, sms, callcenter).

One `HttpClient` per connector: an httpx client with timeouts and connection
limits, a per-source token bucket, request signing/authentication through an
`RequestAuth` hook (re-applied on every attempt, so signatures carry a fresh
timestamp and nonce), and tenacity retries for transient failures only.

Retries live here and nowhere else in a connector. They are bounded twice: by
attempts and by total elapsed time; a `Retry-After` longer than the remaining
budget ends the retrying at once instead of sleeping past the budget.

Every error message and log line passes through a `Redactor` that removes the
source's secrets (client secrets, tokens, signatures) and masks phone/ID
numbers, so an exception can be printed to an operator as it is.
"""

from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_after_delay

from core import jsonutil
from core.errors import AuthError, ConfigError, HubError, SourceDataError, TransientError
from core.logs import get_logger
from core.pii import scrub_text

log = get_logger(__name__)

# --- the error policy ------------------------------------------------------------------
#
# ONE table: what a response status or a transport exception means for the hub.
# `retry` says whether the HTTP layer tries again (with backoff); `unsafe_retry`
# says whether that also holds for a non-idempotent request (an SMS send), where
# a retry after the request may have been processed could act twice.
#
# | status / exception                          | hub error       | retry | unsafe_retry | why                                  |
# |---------------------------------------------|-----------------|-------|--------------|--------------------------------------|
# | httpx.ConnectError, ConnectTimeout          | TransientError  | yes   | yes          | request never reached the server     |
# | httpx.PoolTimeout                           | TransientError  | yes   | yes          | never sent: our own pool was full    |
# | httpx.ReadTimeout, ReadError, WriteError,   | TransientError  | yes   | no           | outcome unknown: maybe processed     |
# |   WriteTimeout, RemoteProtocolError         |                 |       |              |                                      |
# | 408 Request Timeout                         | TransientError  | yes   | no           | outcome unknown                      |
# | 429 Too Many Requests                       | TransientError  | yes   | yes          | refused, not processed; Retry-After  |
# | 503 Service Unavailable                     | TransientError  | yes   | yes          | refused, not processed; Retry-After  |
# | 500, 502, 504, other 5xx                    | TransientError  | yes   | no           | outcome unknown                      |
# | 401 Unauthorized                            | AuthError       | once  | once         | one re-authentication, then fail     |
# | 403 Forbidden                               | AuthError       | no    | no           | credentials lack the right: operator |
# | 404, 409, 410, 422                          | SourceDataError | no    | no           | this record is unknown / conflicting |
# | other 4xx (400, 405, 415, ...)              | ConfigError     | no    | no           | our request is wrong: fix config     |
# | 3xx (redirects are not followed)            | ConfigError     | no    | no           | base URL or login moved: fix config  |
# | httpx.UnsupportedProtocol, InvalidURL       | ConfigError     | no    | no           | base URL is wrong                    |


@dataclass(frozen=True)
class Rule:
    error: type[HubError]
    retry: bool
    unsafe_retry: bool
    why: str


_TRANSIENT_SAFE = Rule(TransientError, True, True, "not processed by the source")
_TRANSIENT_UNKNOWN = Rule(TransientError, True, False, "outcome unknown")

STATUS_POLICY: dict[int, Rule] = {
    408: _TRANSIENT_UNKNOWN,
    429: _TRANSIENT_SAFE,
    503: _TRANSIENT_SAFE,
    401: Rule(AuthError, False, False, "credentials refused"),
    403: Rule(AuthError, False, False, "credentials lack the right"),
    404: Rule(SourceDataError, False, False, "unknown at the source"),
    409: Rule(SourceDataError, False, False, "conflicts with the record's state at the source"),
    410: Rule(SourceDataError, False, False, "gone at the source"),
    422: Rule(SourceDataError, False, False, "refused by the source's validation"),
}
DEFAULT_5XX = _TRANSIENT_UNKNOWN
DEFAULT_4XX = Rule(ConfigError, False, False, "request refused: check the source configuration")
REDIRECT = Rule(ConfigError, False, False, "unexpected redirect: check base_url")

EXCEPTION_POLICY: list[tuple[type[Exception], Rule]] = [  # first match wins: subclasses first
    (httpx.ConnectTimeout, _TRANSIENT_SAFE),
    (httpx.ConnectError, _TRANSIENT_SAFE),
    (httpx.PoolTimeout, _TRANSIENT_SAFE),
    (httpx.TimeoutException, _TRANSIENT_UNKNOWN),  # read/write timeouts
    (httpx.NetworkError, _TRANSIENT_UNKNOWN),  # read/write/close errors
    (httpx.RemoteProtocolError, _TRANSIENT_UNKNOWN),  # server dropped the connection mid-answer
    (httpx.UnsupportedProtocol, Rule(ConfigError, False, False, "base URL has no usable scheme")),
    (httpx.InvalidURL, Rule(ConfigError, False, False, "base URL is invalid")),
]


def rule_for_status(status: int) -> Rule | None:
    """The policy row for an HTTP status (None = success)."""
    if status < 300:
        return None
    if status < 400:
        return REDIRECT
    if status in STATUS_POLICY:
        return STATUS_POLICY[status]
    return DEFAULT_5XX if status >= 500 else DEFAULT_4XX


def rule_for_exception(exc: BaseException) -> Rule | None:
    """The policy row for a transport exception (None = not an HTTP transport failure)."""
    for cls, rule in EXCEPTION_POLICY:
        if isinstance(exc, cls):
            return rule
    return None


# --- redaction ---------------------------------------------------------------------------

_SECRET_KEYS = r"(?:access_token|refresh_token|client_secret|secret|password|passwd|sign(?:ature)?|token)"
_SECRET_KEY = re.compile(rf"(?i)^[\w-]*{_SECRET_KEYS}$")
_SECRET_PARAMS = re.compile(rf"(?i)({_SECRET_KEYS}[\"']?\s*[=:]\s*[\"']?)([^&\s\"',}}]+)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                            "x-signature", "x-sign", "x-cc-sign", "x-access-key-secret"})


class Redactor:
    """Removes known secret values, secret-looking parameters and PII from text."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        self._secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        """Remember one more secret value (e.g. a freshly issued token)."""
        if secret and len(secret) >= 4:  # shorter strings would mangle ordinary text
            self._secrets.add(secret)

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        for s in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(s, "***")
        text = _BEARER.sub(r"\1***", text)
        text = _SECRET_PARAMS.sub(r"\1***", text)
        return scrub_text(text)

    def url(self, url: httpx.URL | str) -> str:
        """A URL safe to print: secret-looking query values replaced."""
        parts = urlsplit(str(url))
        query = urlencode([(k, "***" if _SECRET_KEY.match(k) else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return self(urlunsplit(parts._replace(query=query)))

    def headers(self, headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
        return {k: ("***" if k.lower() in SECRET_HEADERS else self(v)) for k, v in dict(headers).items()}


# --- configuration shapes used by the client ------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop: attempts AND total time; jittered exponential backoff."""

    attempts: int = 5
    total_seconds: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    retry_after_max: float = 60.0  # never sleep longer than this even if the server asks


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0

    def httpx(self) -> httpx.Timeout:
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

    async def apply(self, request: httpx.Request) -> None: ...

    async def on_unauthorized(self) -> bool:
        """Drop cached credentials; True if a fresh attempt may succeed."""
        ...

    def secrets(self) -> list[str]:
        """Secret values to redact from errors and logs."""
        ...


# --- the client ----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_ts = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - now_ts)


@dataclass
class HttpStats:
    """Counters for run reports, tests and benchmarks."""

    requests: int = 0
    retries: int = 0
    reauths: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    slept: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Cumulative counters for a page's `stats` (run reports)."""
        return {"http_requests": self.requests, "http_retries": self.retries, "http_reauths": self.reauths,
                "http_slept_s": round(self.slept, 3)}


class _BudgetSpent(Exception):
    """Internal: the next wait would overrun the total time budget."""

    def __init__(self, error: TransientError):
        super().__init__(str(error))
        self.error = error


class _Retryable(Exception):
    """Internal: carries a hub error that the retry loop may try again."""

    def __init__(self, error: TransientError):
        super().__init__(str(error))
        self.error = error


class HttpClient:
    """httpx + retry policy + rate limit + auth + redaction for one source."""

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
            follow_redirects=False)

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- public request helpers --

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json: Any = None, headers: dict[str, str] | None = None,
                      idempotent: bool | None = None, authenticate: bool = True,
                      data: dict[str, str] | None = None) -> httpx.Response:
        """Send one logical request with the retry policy; return the successful response.

        `idempotent` defaults to True for GET/HEAD/PUT/DELETE and False for POST/PATCH;
        a non-idempotent request is retried only where the policy table says the
        source cannot have processed it.
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
        started = time.monotonic()

        async def attempt() -> httpx.Response:
            nonlocal reauthed
            while True:
                if self.rate_limit is not None:
                    self.stats.slept += await self.rate_limit.acquire()
                req = self._client.build_request(method, path.lstrip("/"), params=clean_params or None,
                                                 content=body, data=data, headers=headers)
                if authenticate and self.auth is not None:
                    try:
                        await self.auth.apply(req)
                    except TransientError as exc:  # token endpoint down: same policy as the call
                        for sec in self.auth.secrets():
                            self.redact.add(sec)
                        raise _Retryable(exc) from None
                    for sec in self.auth.secrets():  # a fresh token is a new secret to hide
                        self.redact.add(sec)
                self.stats.requests += 1
                try:
                    resp = await self._client.send(req)
                except Exception as exc:  # noqa: BLE001 - classified by the policy table
                    raise self._transport_error(exc, req, idempotent) from None
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
                raise self._status_error(rule, resp, idempotent)

        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            stop=stop_after_attempt(self.retry.attempts) | stop_after_delay(self.retry.total_seconds),
            wait=self._wait, sleep=self._sleep, reraise=True,
            before_sleep=self._log_retry)
        try:
            return await retrying(attempt)
        except (_Retryable, _BudgetSpent) as exc:
            elapsed = time.monotonic() - started
            err = exc.error
            err.args = (f"{err.args[0]} (gave up after {retrying.statistics.get('attempt_number', 1)} "
                        f"attempts in {elapsed:.1f}s)",)
            raise err from None

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None,
                       headers: dict[str, str] | None = None) -> Any:
        """GET and decode a JSON body (a body that is not JSON is a transient fault)."""
        resp = await self.request("GET", path, params=params, headers=headers)
        return self.decode(resp)

    async def post_json(self, path: str, json: Any, *, headers: dict[str, str] | None = None,
                        idempotent: bool | None = None, params: dict[str, Any] | None = None) -> Any:
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
                                 f"that is not JSON: {self.redact(resp.text[:200])!r}", source=self.source) from None

    # -- internals --

    def _status_error(self, rule: Rule, resp: httpx.Response, idempotent: bool) -> Exception:
        req = resp.request
        snippet = self.redact(resp.text[:300]) if resp.content else ""
        msg = (f"{req.method} {self.redact.url(req.url)} → HTTP {resp.status_code} ({rule.why})"
               + (f": {snippet}" if snippet else ""))
        if rule.error is TransientError:
            err = TransientError(msg, source=self.source,
                                 retry_after=parse_retry_after(resp.headers.get("Retry-After")))
            err.status_code = resp.status_code  # type: ignore[attr-defined]
            if rule.retry and (idempotent or rule.unsafe_retry):
                return _Retryable(err)
            return err
        err2 = rule.error(msg, source=self.source)
        err2.status_code = resp.status_code  # type: ignore[attr-defined]
        return err2

    def _transport_error(self, exc: Exception, req: httpx.Request, idempotent: bool) -> Exception:
        rule = rule_for_exception(exc)
        if rule is None:
            return exc  # a programming error: let it surface unchanged
        msg = f"{req.method} {self.redact.url(req.url)} failed: {type(exc).__name__} ({rule.why})"
        detail = self.redact(str(exc))
        if detail:
            msg += f": {detail[:200]}"
        if rule.error is TransientError:
            err = TransientError(msg, source=self.source)
            err.outcome_unknown = not rule.unsafe_retry  # type: ignore[attr-defined]
            if rule.retry and (idempotent or rule.unsafe_retry):
                return _Retryable(err)
            return err
        return rule.error(msg, source=self.source)

    def _wait(self, state: RetryCallState) -> float:
        """Jittered exponential backoff, or the server's Retry-After when it sent one."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.error.retry_after if isinstance(exc, _Retryable) else None
        elapsed = time.monotonic() - state.start_time
        remaining = self.retry.total_seconds - elapsed
        if retry_after is not None:
            wait = min(retry_after, self.retry.retry_after_max)
        else:
            # "equal jitter": uniform in [cap/2, cap], cap = min(max, initial * 2^n): grows, yet spreads
            # the retries of many clients so they do not hit a recovering source in lockstep
            cap = min(self.retry.backoff_max, self.retry.backoff_initial * 2 ** (state.attempt_number - 1))
            wait = random.uniform(cap / 2, cap)
        if wait > remaining:
            # Sleeping would overrun the total budget: give up now instead.
            raise _BudgetSpent(exc.error if isinstance(exc, _Retryable)
                               else TransientError("retry budget spent", source=self.source))
        return wait

    async def _sleep(self, seconds: float) -> None:
        self.stats.retries += 1
        self.stats.slept += seconds
        await asyncio.sleep(seconds)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: attempt %d failed, retrying in %.2fs: %s", self.source, state.attempt_number,
                    state.next_action.sleep if state.next_action else 0.0, exc)

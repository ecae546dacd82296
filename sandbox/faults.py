"""Fault injection: per-system settings and the middleware that applies them.

Faults apply to every route except `/__admin/...`. A hung request waits in
small steps so that server shutdown can end it (see `stopping`).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send


class Faults(BaseModel):
    """The fault settings of one system (see sandbox/README.md for each key)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    error_rate: float = Field(0.0, ge=0, le=1)
    error_codes: list[int] = Field(default_factory=lambda: [500, 502, 503])
    throttle_rate: float = Field(0.0, ge=0, le=1)
    throttle_burst: int = Field(3, ge=1)
    throttle_next: int = Field(0, ge=0)
    error_next: int = Field(0, ge=0)  # the next N requests past any throttling fail with a code of error_codes
    outage_after: int = Field(-1, ge=-1)  # -1: never; else that many more requests work, then all fail
    retry_after: int = Field(1, ge=0)
    latency_ms: int = Field(0, ge=0)
    latency_jitter_ms: int = Field(0, ge=0)
    hang_rate: float = Field(0.0, ge=0, le=1)
    hang_seconds: float = Field(30.0, ge=0)
    session_ttl: float = Field(3600.0, ge=0)
    malformed_rate: float = Field(0.02, ge=0, le=1)
    duplicate_rate: float = Field(0.0, ge=0, le=1)
    markup_variant: Literal["default", "v2"] = "default"


def initial_faults(source: str, spec: dict[str, Any] | None, malformed_rate: float, session_ttl: float) -> Faults:
    """Defaults for `source` (its own `session_ttl`), overlaid with `spec["*"]` then `spec[source]`."""
    base: dict[str, Any] = {"session_ttl": session_ttl, "malformed_rate": malformed_rate}
    spec = spec or {}
    base.update(spec.get("*", {}))
    base.update(spec.get(source, {}))
    return Faults(**base)


class FaultMiddleware:
    """Pure ASGI middleware: decide a fault per request before the app sees it.

    `html`: the system is a portal, so error pages are HTML rather than JSON.
    """

    def __init__(self, app: ASGIApp, source: str, get_faults: Any, stopping: threading.Event, *,
                 html: bool = False) -> None:
        self.app = app
        self.source = source
        self.html = html
        self.get_faults = get_faults
        self.stopping = stopping
        self.rng = random.Random()
        self._throttle_left = 0
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        f: Faults = self.get_faults(self.source)
        if f.latency_ms or f.latency_jitter_ms:
            await asyncio.sleep((f.latency_ms + self.rng.uniform(0, f.latency_jitter_ms)) / 1000)
        if f.hang_rate and self.rng.random() < f.hang_rate:
            await self._hang(f.hang_seconds)
            await self._error(scope, receive, send, 504)
            return
        if self._throttled(f):
            resp = self._body(429, {"error": "rate_limited"}, "请求过于频繁，请稍后再试")
            resp.headers["Retry-After"] = str(f.retry_after)
            await resp(scope, receive, send)
            return
        if self._outage(f) or self._forced_error(f) or (f.error_rate and self.rng.random() < f.error_rate):
            await self._error(scope, receive, send, self.rng.choice(f.error_codes or [500]))
            return
        await self.app(scope, receive, send)

    def _throttled(self, f: Faults) -> bool:
        with self._lock:
            if f.throttle_next > 0:
                f.throttle_next -= 1
                return True
            if self._throttle_left > 0:
                self._throttle_left -= 1
                return True
            if f.throttle_rate and self.rng.random() < f.throttle_rate:
                self._throttle_left = f.throttle_burst - 1
                return True
        return False

    def _forced_error(self, f: Faults) -> bool:
        with self._lock:
            if f.error_next > 0:
                f.error_next -= 1
                return True
        return False

    def _outage(self, f: Faults) -> bool:
        with self._lock:
            if f.outage_after > 0:
                f.outage_after -= 1
                return False
            return f.outage_after == 0

    async def _hang(self, seconds: float) -> None:
        # Sleep in steps so stop() can end the hang instead of waiting it out.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping.is_set():
            await asyncio.sleep(0.05)

    async def _error(self, scope: Scope, receive: Receive, send: Send, code: int) -> None:
        await self._body(code, {"error": "server_error", "status": code}, "服务器错误")(scope, receive, send)

    def _body(self, code: int, doc: dict[str, Any], text: str) -> Response:
        if self.html:
            return HTMLResponse(f"<html><body><h1>{code}</h1><p>{text}</p></body></html>", status_code=code)
        return JSONResponse(doc, status_code=code)


def request_source(request: Request) -> str:
    """The source key of the app serving this request."""
    return request.app.state.source

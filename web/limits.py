"""Request hygiene for the whole web app (issue 16, item 7).

- `RequestLimits` (pure ASGI middleware): a body over `HUB_MAX_BODY_BYTES` (default 1 MiB)
  answers 413 before it is read in full; a JSON body that is not valid UTF-8 or holds a lone
  surrogate (`"\\ud800"`, which no store or log can encode) answers 422 naming `body`.
- `validation_error`: FastAPI's 422 without the submitted input (`input`, `ctx` dropped;
  locations scrubbed and cut, since an unknown key may itself be personal data).
- `peer_is_proxy`, `client_host`, `is_https`: `X-Forwarded-For` / `X-Forwarded-Proto` are
  believed only from `HUB_TRUSTED_PROXIES` (uvicorn's own proxy handling is switched off).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.pii import scrub_text
from core.security_settings import get_security_settings


def _has_lone_surrogate(obj: Any) -> bool:
    """Whether any string in a decoded JSON document cannot be encoded as UTF-8."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return False


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or []:
        if k == name:
            return bytes(v).decode("latin-1")
    return None


class RequestLimits:
    """Refuse oversized bodies (413) and JSON with invalid unicode (422) before any route sees them."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body up to the limit, check it, then hand the request on with the body replayed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_security_settings().max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _error(400, "bad Content-Length")(scope, receive, send)
                return
            if int(declared) > limit:
                await _error(413, f"request body too large (limit {limit} bytes)")(scope, receive, send)
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > limit:
                await _error(413, f"request body too large (limit {limit} bytes)")(scope, receive, send)
                return
        if body and "json" in (_header(scope, b"content-type") or "").lower() and _bad_unicode(bytes(body)):
            await _error(422, [{"loc": ["body"], "msg": "invalid unicode in the JSON body (not UTF-8, or a lone "
                                                        "surrogate)", "type": "unicode_error"}])(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _bad_unicode(body: bytes) -> bool:
    """Not UTF-8, or valid JSON holding a lone surrogate (invalid JSON is left to the route: 422 there)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return _has_lone_surrogate(doc)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A 422 that names the fields and says what is wrong, never echoing what was sent."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": [scrub_text(str(p))[:60] if isinstance(p, str) else p for p in e.get("loc", ())],
               "msg": scrub_text(str(e.get("msg", "invalid")))[:200], "type": str(e.get("type", "value_error"))}
              for e in errors]
    return _error(422, detail or [{"loc": ["body"], "msg": "invalid request", "type": "value_error"}])


def install_request_hygiene(app: FastAPI) -> None:
    """Add the body/unicode limits and the input-free validation answer to `app`."""
    app.add_middleware(RequestLimits)
    app.add_exception_handler(RequestValidationError, validation_error)


def peer_is_proxy(request: Request) -> bool:
    """Whether the TCP peer is one of the configured trusted proxies."""
    return get_security_settings().is_trusted_proxy(request.client.host if request.client else None)


def client_host(request: Request) -> str:
    """The client's address: the peer, or, behind a trusted proxy, the nearest untrusted X-Forwarded-For hop."""
    peer = request.client.host if request.client else "-"
    if not peer_is_proxy(request):
        return peer
    hops = [h.strip() for h in (request.headers.get("x-forwarded-for") or "").split(",") if h.strip()]
    settings = get_security_settings()
    for hop in reversed(hops):
        if not settings.is_trusted_proxy(hop):
            return hop[:64]
    return peer


def is_https(request: Request) -> bool:
    """Whether the request came over HTTPS: directly, or as a trusted proxy says (X-Forwarded-Proto)."""
    if request.url.scheme == "https":
        return True
    proto = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    return proto == "https" and peer_is_proxy(request)

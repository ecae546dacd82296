"""Security headers on every response: a strict CSP (no inline script or style) and friends."""

from __future__ import annotations

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from web.limits import is_https

#: Only our own static files; no inline script/style, no plugins, no framing, forms post to us only.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

HSTS = "max-age=31536000; includeSubDomains"

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """Adds SECURITY_HEADERS; pages that show tickets are also never cached."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Add the security headers, and no-store outside the static files."""
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if is_https(request):  # directly, or as a trusted proxy says: browsers keep to HTTPS from now on
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if not request.url.path.startswith("/console/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

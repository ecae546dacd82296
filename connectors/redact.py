"""Secrets and personal data out of every error message and log line of the connectors.

A `Redactor` removes the source's secrets (client secrets, tokens, signatures),
secret-looking query parameters and bearer tokens, and masks phone and ID numbers,
so an exception can be printed to an operator as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from core.pii import scrub_text

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
        """Headers safe to print: secret headers masked, the other values redacted."""
        return {k: ("***" if k.lower() in SECRET_HEADERS else self(v)) for k, v in dict(headers).items()}

"""Signed session cookies and CSRF tokens for the console (no extra dependency).

The cookie is `base64url(json) . base64url(HMAC-SHA256)` with an expiry inside;
the key comes from `HUB_SESSION_SECRET` or a 0600 file under HUB_HOME created
on first use (like the PII key). Each session carries its own random CSRF
token; every form posts it back and it is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from core.configfile import cached_config
from core.settings import get_settings

COOKIE = "hub_session"
MAX_AGE = 8 * 3600  # one working shift


@cached_config
def session_key() -> bytes:
    """The signing key: HUB_SESSION_SECRET, else var/session.key (created once, mode 0600)."""
    env = os.environ.get("HUB_SESSION_SECRET")
    if env:
        return env.encode("utf-8")
    path = get_settings().home / "session.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(body: str) -> str:
    return _b64(hmac.new(session_key(), body.encode(), hashlib.sha256).digest())


@dataclass
class Session:
    """What the cookie holds: a signed-in user (or none yet) and the CSRF token."""

    csrf: str
    username: str | None = None
    team: str | None = None
    role: str | None = None
    expires: float = 0.0
    #: the user's `session_version` when signed in: a bump (logout, disable, role change) ends it
    version: int = 0

    @property
    def signed_in(self) -> bool:
        """Whether a user is signed in (an anonymous session carries only the CSRF token)."""
        return self.username is not None


def new_session(**user: Any) -> Session:
    """A fresh session (new CSRF token: rotating it at sign-in defeats session fixation)."""
    return Session(csrf=secrets.token_urlsafe(32), expires=time.time() + MAX_AGE, **user)


def dump(s: Session) -> str:
    """Serialise and sign a session for the cookie."""
    body = _b64(json.dumps({"c": s.csrf, "u": s.username, "t": s.team, "r": s.role, "e": s.expires, "v": s.version},
                           separators=(",", ":")).encode())
    return f"{body}.{_sign(body)}"


def load(cookie: str | None) -> Session | None:
    """Verify and decode a cookie; None when absent, forged, malformed or expired."""
    if not cookie or len(cookie) > 4096 or "." not in cookie:
        return None
    body, _, sig = cookie.partition(".")
    if not hmac.compare_digest(sig, _sign(body)):
        return None
    try:
        d = json.loads(_unb64(body))
        s = Session(csrf=str(d["c"]), username=d.get("u"), team=d.get("t"), role=d.get("r"),
                    expires=float(d["e"]), version=int(d.get("v", -1)))
    except (ValueError, KeyError, TypeError):
        return None
    return s if s.expires > time.time() else None


def csrf_ok(session: Session | None, submitted: str | None) -> bool:
    """The form's token matches the session's (constant-time)."""
    return bool(session and submitted and hmac.compare_digest(session.csrf, submitted))

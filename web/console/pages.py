"""Console plumbing: templates (autoescaped), filters and session helpers (the throttle: hub.backoffice.throttle)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.responses import Response

from core.errors import LoginRequired
from core.schema import to_local, utcnow
from hub import labels
from hub.backoffice.auth import Principal
from hub.backoffice.users import session_user
from hub.backoffice.views import remaining_text, sub_label
from hub.teams import handler_name, team_name
from web.console.session import COOKIE, MAX_AGE, Session, dump, load, new_session
from web.limits import is_https

HERE = Path(__file__).parent


def _env() -> Environment:
    # autoescape=True for every template: complaint text is attacker-controlled.
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["local"] = lambda v: _fmt(v, "%m-%d %H:%M")
    env.filters["localfull"] = lambda v: _fmt(v, "%Y-%m-%d %H:%M")
    env.filters["remaining"] = remaining
    env.globals.update(L=labels, label=labels.label, team_name=team_name, handler_name=handler_name,
                       actor_label=labels.actor_label, sub_label=sub_label)
    return env


def _fmt(value: datetime | str | None, pattern: str) -> str:
    """Show a stored UTC time (datetime or ISO text) in Asia/Shanghai."""
    if not value:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return to_local(value).strftime(pattern)


def remaining(due: datetime | None, now: datetime | None = None) -> str:
    """`剩余 3小时20分` or `已超时 1天2小时` for a due time."""
    return remaining_text(due, now)


templates = Jinja2Templates(env=_env())


def session_of(request: Request) -> Session | None:
    """The request's verified session cookie, or None."""
    return load(request.cookies.get(COOKIE))


def require_user(request: Request) -> tuple[Session, Principal]:
    """The signed-in user's session and principal, or LoginRequired.

    The cookie only names the user and the session version it was issued under; the team, the
    role and whether the account may still sign in come from the store on every request, so a
    logout, a disabled account or a role change holds from the next request on.
    """
    s = session_of(request)
    if s is None or not s.signed_in:
        raise LoginRequired()
    with request.app.state.get_store().begin() as conn:
        user = session_user(conn, s.username, s.version)
    if user is None:
        raise LoginRequired()
    return s, Principal(name=user.username, team=user.team, role=user.role, via="session")


def set_session(response: Response, request: Request, s: Session) -> None:
    """Write the signed cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS."""
    response.set_cookie(COOKIE, dump(s), max_age=MAX_AGE, httponly=True, samesite="strict",
                        secure=is_https(request), path="/")


def anonymous_session(request: Request) -> Session:
    """The current session, or a fresh anonymous one (it carries the sign-in form's CSRF token)."""
    s = session_of(request)
    return s if s is not None else new_session()


def render(request: Request, name: str, ctx: dict[str, Any], status: int = 200,
           session: Session | None = None) -> Response:
    """Render a template with the session's CSRF token and user in the context."""
    s = session or session_of(request)
    base = {"request": request, "csrf": s.csrf if s else "", "user": s if s and s.signed_in else None,
            "now": utcnow()}
    resp = templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)
    if s is not None and session is not None:
        set_session(resp, request, s)
    return resp

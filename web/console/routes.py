"""The web console (server-rendered, Chinese): sign-in, team queue, ticket detail, action forms.

Reads and actions go through the same functions as the API (`hub.backoffice.queries`,
`hub.backoffice.commands`), so team scoping, roles and audit are identical. Every POST
carries the session's CSRF token; pages send the strict CSP of `web.api.security`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from core.errors import ActionError, HubError, LoginRequired, NotFound
from core.logs import get_logger
from core.schema import utcnow
from hub.backoffice.audit import audit
from hub.backoffice.auth import Principal
from hub.backoffice.commands import (
    AcceptBody,
    ActionName,
    ApproveBody,
    ApproveCompensationBody,
    CompensateBody,
    ExtensionBody,
    NoteBody,
    ReclassifyBody,
    ReplyBody,
    ResolveBody,
    TransferBody,
    run_action,
)
from hub.backoffice.export import queue_sheet, report_sheets, reveal_queue, xlsx_bytes
from hub.backoffice.incidents import incident_view, notify_incident
from hub.backoffice.queries import (
    audit_reveal,
    deadline_state,
    event_view,
    pending_extension,
    reclassify_choices,
    team_queue,
    team_ticket,
    ticket_view,
    timeline,
)
from hub.backoffice.replies import fill, limit_for, templates_for
from hub.backoffice.saved import list_searches, save_search
from hub.backoffice.throttle import clear, record_failure, throttle_key, wait_seconds
from hub.backoffice.users import authenticate, end_sessions, session_user
from hub.backoffice.views import clock_rows, customer_history, explanation_rows
from hub.handling.compensation import get_compensation, pending_compensation
from hub.labels import action_error
from hub.reports import period_window
from hub.reports.metrics import compute
from hub.teams import get_teams
from web.console.forms import typed_form
from web.console.pages import (
    HERE,
    anonymous_session,
    render,
    require_user,
    session_of,
    set_session,
)
from web.console.search import FilterError, business_lines, parse_filters
from web.console.session import COOKIE, csrf_ok, new_session
from web.limits import client_host

log = get_logger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)

#: fixed flash messages (only keys travel in the URL: nothing user-controlled is reflected)
FLASH = {"accept": "已受理", "note": "备注已添加", "reply": "回复已提交，将回传来源系统",
         "resolve": "已标记为已解决，结果将回传来源系统", "request_extension": "延期申请已提交，待组长审批",
         "approve_extension": "延期审批已记录",
         "reclassify": "改判已记录", "compensate": "补偿已记录（超出权限的待组长审批）",
         "approve_compensation": "补偿审批已记录",
         "incident_notice": "统一答复已发送，将逐件回传来源系统", "incident_closed": "事件已关闭，相关工单已办结", "rerouted": "改判后工单已转至其他团队", "transferred": "工单已转办至其他团队", "signed_out": "已退出登录"}
ACTIONS: dict[str, tuple[ActionName, type[BaseModel]]] = {
    "accept": ("accept", AcceptBody), "note": ("note", NoteBody), "reply": ("reply", ReplyBody),
    "resolve": ("resolve", ResolveBody), "transfer": ("transfer", TransferBody),
    "extension": ("request_extension", ExtensionBody), "approve": ("approve_extension", ApproveBody),
    "reclassify": ("reclassify", ReclassifyBody),
    "compensate": ("compensate", CompensateBody), "approve_compensation": ("approve_compensation", ApproveCompensationBody),
}


def mount_console(app: FastAPI) -> None:
    """Attach the console pages, its static files and the sign-in redirect to `app`."""
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/console/login", status_code=303)


def _app_store(request: Request) -> Any:
    return request.app.state.get_store()


# --- sign-in --------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    """The sign-in form, its CSRF token in an anonymous session."""
    s = anonymous_session(request)
    return render(request, "login.html", {"error": None}, session=s)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check CSRF, throttle and password; on success start a fresh signed-in session."""
    form = await request.form()
    s = session_of(request)
    username = str(form.get("username") or "").strip()[:80]
    password = str(form.get("password") or "")[:1024]
    key = throttle_key(username, client_host(request))  # per (user, client): an office is not locked out
    fresh = s or new_session()
    if not csrf_ok(s, str(form.get("csrf") or "")):
        return render(request, "login.html", {"error": "页面已过期，请重新登录"}, status=403, session=fresh)
    with _app_store(request).begin() as conn:
        wait = wait_seconds(conn, key)
        user = authenticate(conn, username, password) if not wait else None
        if user is None and not wait:
            record_failure(conn, key)
        elif user is not None:
            clear(conn, key)
            audit(conn, actor=f"user:{user.username}", kind="login", subject=f"user:{user.username}")
    if wait:
        return render(request, "login.html", {"error": f"登录失败次数过多，请{int(wait) + 1}秒后再试"}, status=429,
                      session=fresh)
    if user is None:
        return render(request, "login.html", {"error": "用户名或密码错误"}, status=401, session=fresh)
    log.info("console sign-in: %s (%s/%s)", user.username, user.team, user.role)
    resp = RedirectResponse("/console/", status_code=303)
    set_session(resp, request, new_session(username=user.username, team=user.team, role=user.role,
                                           version=user.session_version))
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out (CSRF-checked): drop the session cookie, back to the sign-in page."""
    form = await request.form()
    if not csrf_ok(session_of(request), str(form.get("csrf") or "")):
        return render(request, "error.html", {"title": "请求无效", "message": "页面已过期，请刷新后重试"},
                      status=403)
    s = session_of(request)
    if s is not None and s.username:
        with _app_store(request).begin() as conn:  # every copy of this session stops working
            if session_user(conn, s.username, s.version) is not None:
                end_sessions(conn, s.username, actor=f"user:{s.username}")
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


# --- queue and detail -------------------------------------------------------------------------


@router.get("/")
def queue_page(request: Request, msg: str | None = None) -> Response:
    """The team's queue, filtered by status, urgency, source, business line, deadline and date range."""
    return _queue(request, msg=msg, search=False)


@router.get("/export.xlsx")
def export_queue(request: Request, reveal: int = 0) -> Response:
    """The filtered queue (same query string as the queue and search pages) as xlsx; audited.

    PII masked; `reveal=1` adds the customers' name, phone and ID number in clear for roles
    that may reveal (lead, compliance), with a `pii_revealed` event on every ticket exported.
    """
    s, p = require_user(request)
    if reveal and not p.may_reveal:
        return render(request, "error.html", {"title": "无权导出明文", "message": "您的角色无权导出明文个人信息"},
                      status=403)
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str) and k != "reveal"}
    try:
        f, _ = parse_filters(params, limit=500)
    except FilterError as exc:
        return render(request, "error.html", {"title": "筛选条件无效",
                                              "message": f"字段 {exc.field} 的取值无效，请检查后重试"}, status=422)
    with _app_store(request).begin() as conn:
        items = team_queue(conn, p.team, f)
        revealed = reveal_queue(conn, p, items) if reveal else None
        audit(conn, actor=p.actor, kind="export", subject=f"queue:{p.team}", rows=len(items), masked=not reveal,
              **({"tickets": [i.ticket_id for i in items]} if reveal else {}))
    return _xlsx(xlsx_bytes([queue_sheet(items, revealed)]),
                 f"queue-{p.team}{'-revealed' if reveal else ''}.xlsx")


@router.get("/report.xlsx")
def export_report(request: Request, period: str = "daily") -> Response:
    """The daily or weekly report's tables as xlsx (leads, compliance, admins); audited."""
    s, p = require_user(request)
    if p.role == "handler":
        return render(request, "error.html", {"title": "无权导出", "message": "您的角色无权导出报表"}, status=403)
    if period not in ("daily", "weekly"):
        return render(request, "error.html", {"title": "参数无效", "message": "字段 period 的取值无效"}, status=422)
    with _app_store(request).begin() as conn:
        tables = compute(conn, period_window("daily" if period == "daily" else "weekly"),
                         hourly_trend=period == "daily")
        audit(conn, actor=p.actor, kind="export", subject=f"report:{period}")
    return _xlsx(xlsx_bytes(report_sheets(tables)), f"report-{period}.xlsx")


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/searches")
async def save_search_page(request: Request) -> Response:
    """Save the current filters under a name for the signed-in user (CSRF-checked; never the search text)."""
    s, p = require_user(request)
    form = await request.form()
    if not csrf_ok(s, str(form.get("csrf") or "")):
        return render(request, "error.html", {"title": "请求无效", "message": "页面已过期，请刷新后重试"},
                      status=403)
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf", "name", "q")}
    name = str(form.get("name") or "").strip()
    if not name or len(name) > 60:
        return render(request, "error.html", {"title": "参数无效", "message": "字段 name 的取值无效（1–60 字）"},
                      status=422)
    try:
        parse_filters(fields)  # the same checks as the queue: 422 naming the field
    except FilterError as exc:
        return render(request, "error.html", {"title": "筛选条件无效",
                                              "message": f"字段 {exc.field} 的取值无效，请检查后重试"}, status=422)
    try:
        with _app_store(request).begin() as conn:
            kept = save_search(conn, p.name, name, fields)
    except ValueError:
        return render(request, "error.html", {"title": "保存失败", "message": "常用筛选最多保存 20 个"}, status=409)
    return RedirectResponse(f"/console/search?{urlencode(kept)}", status_code=303)


@router.get("/search")
def search_page(request: Request) -> Response:
    """Search the team's tickets in any status: ticket number, source number or phone (keyed hash)."""
    return _queue(request, msg=None, search=True)


def _queue(request: Request, *, msg: str | None, search: bool) -> Response:
    s, p = require_user(request)
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    try:
        f, form = parse_filters(params)
    except FilterError as exc:
        return render(request, "error.html", {"title": "筛选条件无效",
                                              "message": f"字段 {exc.field} 的取值无效，请检查后重试"}, status=422)
    if search and not f.status:
        f.include_closed = True
    with _app_store(request).begin() as conn:
        items = team_queue(conn, p.team, f)
        saved = [(n, urlencode(q)) for n, q in list_searches(conn, p.name)]
    counts = {k: sum(1 for i in items if i.deadline_state == k) for k in ("breach", "warning", "ok")}
    return render(request, "queue.html", {
        "items": items, "counts": counts, "flash": FLASH.get(msg or ""), "principal": p, "search": search,
        "filters": form, "lines": business_lines(), "searched": bool(params.get("q")),
        # the export link repeats the filters, never the query text (it may be a phone number)
        "export_qs": urlencode({k: v for k, v in params.items() if k not in ("q", "msg")}), "saved": saved})


def _detail(request: Request, p: Principal, ticket_id: str, *, reveal: bool = False, flash: str | None = None,
            error: str | None = None, status: int = 200, tpl: str | None = None) -> Response:
    with _app_store(request).begin() as conn:
        try:
            t = team_ticket(conn, p, ticket_id)
        except NotFound:
            return render(request, "error.html", {"title": "工单不存在", "message": "没有找到该工单，或它不属于本团队。"},
                          status=404)
        reveal = reveal and p.may_reveal
        if reveal:
            audit_reveal(conn, p, t.ticket_id, channel="console")
        events = timeline(conn, t.ticket_id)
        history, history_hidden = customer_history(conn, t, p.team)
    offered = templates_for(t)
    chosen = next((x for x in offered if x.id == tpl), None)
    if tpl and chosen is None:  # not a template of this ticket: say which field, not the value
        error, status = action_error(422, "", "template"), 422
    other_teams = [(k, v.name) for k, v in get_teams().teams.items() if k != p.team]
    handlers = [(h.id, h.name) for h in get_teams().team(p.team).handlers] if p.team in get_teams().teams else []
    return render(request, "detail.html", {
        "t": t, "view": ticket_view(t, reveal=reveal), "events": [event_view(e, reveal=reveal) for e in events],
        "state": deadline_state(t.handling.status.value, t.clocks, utcnow()), "revealed": reveal,
        "principal": p, "flash": flash, "error": error, "other_teams": other_teams, "handlers": handlers,
        "pending": pending_extension(events), "is_open": t.handling.status.is_open,
        "choices": reclassify_choices(), "clock_rows": clock_rows(t), "explain_rows": explanation_rows(t),
        "history": history, "history_hidden": history_hidden, "templates": offered, "chosen": chosen,
        "reply_text": fill(chosen, t) if chosen else "", "limit": limit_for(t),
        "comp_pending": pending_compensation(events), "comp_limit": get_compensation().limit(t)}, status=status)


@router.get("/tickets/{ticket_id}")
def detail_page(request: Request, ticket_id: str, reveal: int = 0, msg: str | None = None,
                tpl: str | None = None) -> Response:
    """One ticket of the team; `reveal=1` shows PII in clear to roles that may (audited); `tpl` fills a 话术."""
    _, p = require_user(request)
    return _detail(request, p, ticket_id, reveal=reveal == 1, flash=FLASH.get(msg or ""), tpl=tpl)


@router.post("/tickets/{ticket_id}/{action}")
async def act(request: Request, ticket_id: str, action: str) -> Response:
    """Run a ticket action from its form (CSRF-checked), then redirect or show the error."""
    s, p = require_user(request)
    form = await request.form()
    if not csrf_ok(s, str(form.get("csrf") or "")):
        return render(request, "error.html", {"title": "请求无效", "message": "页面已过期，请刷新后重试"},
                      status=403)
    if action not in ACTIONS:
        return render(request, "error.html", {"title": "未知操作", "message": "不支持的操作"}, status=404)
    name, model = ACTIONS[action]
    fields = {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    if name in ("approve_extension", "approve_compensation"):
        fields["approve"] = fields.get("approve", "true")
    if name == "resolve" and fields.get("settled") in ("", None):
        fields.pop("settled", None)
    if name == "reclassify":  # one select carries reason and sub-category as "reason/sub"
        reason = fields.pop("reason", "")
        if "/" in reason:
            fields["category"], fields["sub_category"] = reason.split("/", 1)
    fields = {k: v for k, v in fields.items()
              if not (v == "" and k in ("handler", "reply", "method", "business_line", "urgency"))}
    try:
        body = model.model_validate(typed_form(fields))
    except ValidationError as exc:  # name the field, never echo the value
        loc = exc.errors()[0].get("loc") or ("",)
        return _detail(request, p, ticket_id, error=action_error(422, "", str(loc[0])) if loc[0] else
                       "输入不完整或格式不正确，请检查后重试", status=422)
    try:
        t = run_action(_app_store(request), p, ticket_id, name, body)
    except ActionError as exc:
        if exc.status == 404:
            return render(request, "error.html", {"title": "工单不存在", "message": "没有找到该工单，或它不属于本团队。"},
                          status=404)
        message = "您的角色无权执行此操作" if exc.status == 403 else action_error(exc.status, exc.message, exc.field)
        return _detail(request, p, ticket_id, error=message, status=exc.status)
    if t is not None and t.handling.team != p.team:
        return RedirectResponse(f"/console/?msg={'rerouted' if name == 'reclassify' else 'transferred'}",
                                status_code=303)
    return RedirectResponse(f"/console/tickets/{ticket_id}?msg={name}", status_code=303)


# --- mass-fault incidents -----------------------------------------------------------------------


def _incident(request: Request, p: Principal, incident_id: str, *, flash: str | None = None,
              error: str | None = None, status: int = 200) -> Response:
    with _app_store(request).begin() as conn:
        try:
            inc = incident_view(conn, p, incident_id)
        except NotFound:
            return render(request, "error.html", {"title": "事件不存在", "message": "没有找到该群体事件，或本团队没有相关工单。"},
                          status=404)
    return render(request, "incident.html", {"inc": inc, "flash": flash, "error": error, "principal": p,
                                             "may_reply": p.role == "lead"}, status=status)


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: str, msg: str | None = None) -> Response:
    """A mass-fault incident: the team's tickets in it and (for a lead) one notice for all of them."""
    _, p = require_user(request)
    return _incident(request, p, incident_id, flash=FLASH.get(msg or ""))


@router.post("/incidents/{incident_id}/notice")
async def incident_notice(request: Request, incident_id: str) -> Response:
    """Send the standard notice to every open ticket of the incident (CSRF-checked); `close=1` also resolves them."""
    s, p = require_user(request)
    form = await request.form()
    if not csrf_ok(s, str(form.get("csrf") or "")):
        return render(request, "error.html", {"title": "请求无效", "message": "页面已过期，请刷新后重试"},
                      status=403)
    close = form.get("close") == "1"
    try:
        with _app_store(request).begin() as conn:
            notify_incident(conn, p, incident_id, str(form.get("text") or ""), close=close)
    except NotFound:
        return render(request, "error.html", {"title": "事件不存在", "message": "没有找到该群体事件，或本团队没有相关工单。"},
                      status=404)
    except ActionError as exc:
        message = "您的角色无权执行此操作" if exc.status == 403 else action_error(exc.status, exc.message, exc.field)
        return _incident(request, p, incident_id, error=message, status=exc.status)
    except HubError as exc:  # a ticket refused the change: nothing of the notice was written
        return _incident(request, p, incident_id, error=action_error(409, exc.message), status=409)
    return RedirectResponse(f"/console/incidents/{incident_id}?msg={'incident_closed' if close else 'incident_notice'}",
                            status_code=303)

"""The web app: back-office API, web console and team callbacks in one FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from core.logs import get_logger
from core.security_settings import get_security_settings
from hub.store.db import Store, get_store
from web.api.routes import router as api_router
from web.api.security import SecurityHeaders
from web.callback import router as callback_router
from web.console.routes import mount_console
from web.limits import install_request_hygiene

log = get_logger(__name__)

DESCRIPTION = """Back-office API of the complaint hub.

Every call needs a team token: `Authorization: Bearer hub_...` (`hub api token create`).
A team only ever sees its own tickets; another team's ticket answers 404.
Personal data is masked unless a lead or compliance officer asks with `reveal=true`,
which is written to the ticket's timeline as an audit event.
"""


def create_app(store: Store | None = None) -> FastAPI:
    """Build the app. `store` defaults to `get_store()` looked up per request (so tests can swap it)."""
    app = FastAPI(title="Complaint hub back-office API", version="1.0.0", description=DESCRIPTION,
                  docs_url=None, redoc_url=None,  # the docs UI needs CDN scripts: CSP and no network
                  openapi_url=get_security_settings().openapi_url or None)  # HUB_OPENAPI_URL="" hides it
    app.state.get_store = (lambda: store) if store is not None else get_store
    install_request_hygiene(app)  # body limit (413), invalid unicode and input-free 422s
    app.add_middleware(SecurityHeaders)  # added last: outermost, so even a 413 carries the headers

    app.include_router(api_router)
    mount_console(app)
    app.include_router(callback_router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - last resort
        # Never echo the exception: it may carry ticket text. The log line is PII-scrubbed.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


"""Pieces every system app shares: app factory, templates, duplicate delivery.

The admin routes and the fault middleware are not added here: the server
mounts them on every system's app (`sandbox.server.build_app`), so that a
system module needs only the store, never the whole state.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sandbox.store import Store

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
T = TypeVar("T")
_dup_rng = random.Random()


def base_app(source: str, state: Store, *, api_docs: bool = False, title: str = "") -> FastAPI:
    """A FastAPI app for `source` (its routes are added by the system's `create_app`)."""
    app = FastAPI(title=title or f"sandbox {source}", docs_url="/docs" if api_docs else None,
                  redoc_url=None, openapi_url="/openapi.json" if api_docs else None)
    app.state.source = source
    app.state.sb = state
    return app


def render(template: str, **ctx: Any) -> str:
    """Render a template (autoescaped: generated text may hold `<script>`)."""
    return TEMPLATES.get_template(template).render(**ctx)


def with_duplicates(items: list[T], rate: float) -> list[T]:
    """Duplicate delivery fault: some items appear twice in a row."""
    if not rate:
        return items
    out: list[T] = []
    for it in items:
        out.append(it)
        if _dup_rng.random() < rate:
            out.append(it)
    return out

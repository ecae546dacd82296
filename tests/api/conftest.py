"""A real API server on 127.0.0.1 (free port) over the test's store, with tokens for two teams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from hub.backoffice.auth import create_token
from hub.store.db import Store
from web.app import create_app
from web.server import serve_in_thread

ROLES = {("cards", "handler"): "zhang.wei", ("cards", "lead"): "lead.cards",
         ("cards", "compliance"): "compliance.officer", ("cards", "admin"): "admin.cards",
         ("payments", "handler"): "liu.yang", ("payments", "lead"): "lead.payments"}


@dataclass
class Api:
    url: str
    store: Store
    tokens: dict[tuple[str, str], str]

    def client(self, team: str | None = None, role: str | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        tok = token if token is not None else (self.tokens[(team, role)] if team else None)
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=20)


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    with store.begin() as conn:
        tokens = {k: create_token(conn, team=k[0], role=k[1], name=v) for k, v in ROLES.items()}
    with serve_in_thread(create_app(store)) as srv:
        yield Api(url=srv.url, store=store, tokens=tokens)

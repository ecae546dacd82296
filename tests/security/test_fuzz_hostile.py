"""Schemathesis with hostile strategies: lone surrogates in every string, oversized bodies, on every operation.

Cases come from the published spec (`op.as_strategy()`); each is then poisoned: every string
(keys included) gets a lone surrogate, or the body grows past HUB_MAX_BODY_BYTES. No operation
may answer 5xx, and /api/v1 answers must match the spec (status codes and shapes) and echo nothing.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from core.security_settings import get_security_settings
from hub.backoffice.auth import create_token
from hub.store.db import Store
from tests.api.seed import make_ticket, seed
from web.app import create_app
from web.server import RunningServer, serve_in_thread

schema = schemathesis.openapi.from_dict(create_app(Store("sqlite://")).openapi())
OPERATIONS = [r.ok() for r in schema.get_all_operations()]
SURROGATE = "\ud800"


def poison(x: Any) -> Any:
    """Every string of a JSON document (and every key) with a lone surrogate in it."""
    if isinstance(x, str):
        return x + SURROGATE
    if isinstance(x, list):
        return [poison(v) for v in x] or [SURROGATE]
    if isinstance(x, dict):
        return {poison(k): poison(v) for k, v in x.items()} | {SURROGATE: SURROGATE}
    return x


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, hub_env: Path) -> Iterator[tuple[RunningServer, str, str]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hub.db'}")
    store.upgrade()
    (tid,) = seed(store, [make_ticket("HOSTILE-1", team="cards", handler="zhang.wei")])
    with store.begin() as conn:
        token = create_token(conn, team="cards", role="lead", name="lead.cards")
    with serve_in_thread(create_app(store)) as srv:
        yield srv, token, tid
    store.dispose()


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: f"{o.method.upper()} {o.path}")
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_hostile_inputs_never_break_an_operation(op, data, hostile_server) -> None:  # noqa: ANN001
    srv, token, tid = hostile_server
    case = data.draw(op.as_strategy())
    kind = data.draw(st.sampled_from(["surrogate", "oversize"]))
    if "ticket_id" in (case.path_parameters or {}) and zlib.crc32(repr(case.body).encode()) % 2 == 0:
        case.path_parameters["ticket_id"] = tid
    has_body = bool(op.body)
    if kind == "surrogate":
        if has_body:
            # as raw JSON bytes: the escape `\ud800` goes over the wire as a client would send it
            case.body = json.dumps(poison(case.body if isinstance(case.body, dict | list | str) else {})).encode()
        # (a surrogate cannot travel in a URL; test_request_hygiene sends invalid UTF-8 in one)
    elif has_body:
        case.body = json.dumps({"note": "长" * (get_security_settings().max_body_bytes // 2 + 10)},
                               ensure_ascii=False).encode()  # over the limit in UTF-8
    ours = case.path.startswith("/api/v1/")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance] if ours \
        else [not_a_server_error]
    response = case.call_and_validate(base_url=srv.url, headers={"Authorization": f"Bearer {token}"},
                                      checks=checks)
    if kind == "oversize" and has_body:
        assert response.status_code == 413 and len(response.content) < 1000
    if kind == "surrogate" and has_body and response.status_code == 422:
        assert "\\ud800" not in response.text  # the poisoned input is not echoed back

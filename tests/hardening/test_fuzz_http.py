"""Fuzzing the HTTP inputs: the team callback and the back-office API never answer 5xx.

Hypothesis draws team names, tokens, signatures, query strings and bodies (valid
shapes with wrong values, wrong shapes, non-JSON bytes) against the real apps
(`web.callback.create_callback_app()`, `web.app.create_app(store)`) over ASGI.
Every answer must be < 500, and every 4xx must carry a non-empty `detail` that
says what was wrong (no stack traces, no echo of an exception).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.backoffice.auth import create_token
from hub.outbox.dispatch import sign
from hub.store import db
from hub.store.db import Store
from tests.api.seed import make_ticket, seed
from web.app import create_app
from web.callback import create_callback_app

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
STATUSES = ["new", "assigned", "in_progress", "waiting_customer", "resolved", "closed", "reopened"]

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                        st.floats(allow_nan=False), st.text(max_size=50),
                        st.sampled_from(STATUSES + ["", "RESOLVED", "\x00", "x" * 5000, "13812345678"]))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3)), max_leaves=6)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory, hub_env) -> Iterator[tuple[Store, str, str]]:  # noqa: ANN001
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz-http') / 'hub.db'}")
    store.upgrade()
    (tid,) = seed(store, [make_ticket("FZ-1", team="cards")])
    with store.begin() as conn:
        token = create_token(conn, team="cards", role="lead", name="lead.cards")
    db.use_store(store)
    yield store, tid, token
    db.use_store(None)
    store.dispose()


def _check(resp: Any) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    if 400 <= resp.status_code < 500:
        detail = resp.json().get("detail")
        assert detail, f"4xx without a message: {resp.text[:200]}"
        assert "Traceback" not in resp.text


def _body(keys: list[str]):  # noqa: ANN202
    """Bodies near the real shape: known keys with fuzzed values, plus stray keys."""
    return st.one_of(
        st.fixed_dictionaries({}, optional={k: json_value for k in keys}),
        st.dictionaries(st.sampled_from(keys + ["extra", ""]), json_value, max_size=6),
        json_value,
    )


CB_KEYS = ["ticket_id", "status", "note", "reply", "settled", "method"]


@FUZZ
@given(team=st.sampled_from(["cards", "payments", "nope", "", "../x", "卡"]),
       token=st.sampled_from(["demo-token-cards", "demo-token-payments", "", "x"]),
       signing=st.sampled_from(["none", "good", "bad", "stale", "garbage-ts"]),
       body=_body(CB_KEYS), raw=st.one_of(st.none(), st.binary(max_size=200)), use_tid=st.booleans())
def test_callback_fuzz_never_5xx(fuzz_store, team, token, signing, body, raw, use_tid) -> None:  # noqa: ANN001
    _store, tid, _ = fuzz_store
    if use_tid and isinstance(body, dict):
        body["ticket_id"] = tid
    content = raw if raw is not None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    ts = str(int(time.time()))
    if signing == "good":
        headers |= {"X-Hub-Timestamp": ts, "X-Hub-Signature": sign(token or "x", ts, content)}
    elif signing == "bad":
        headers |= {"X-Hub-Timestamp": ts, "X-Hub-Signature": "sha256=00"}
    elif signing == "stale":
        old = str(int(time.time()) - 3600)
        headers |= {"X-Hub-Timestamp": old, "X-Hub-Signature": sign(token or "x", old, content)}
    elif signing == "garbage-ts":
        headers |= {"X-Hub-Timestamp": "12a3", "X-Hub-Signature": "x"}
    with TestClient(create_callback_app(), raise_server_exceptions=False) as c:
        r = c.post(f"/callbacks/{team}/status", content=content, headers=headers)
    _check(r)


ACTIONS = {
    "accept": ["handler", "note"], "notes": ["text", "note"], "reply": ["text", "channel"],
    "resolve": ["note", "reply", "settled", "method", "result"], "transfer": ["team", "handler", "reason"],
    "extension": ["days", "reason"], "extension/approve": ["approve", "note"],
}


@FUZZ
@given(action=st.sampled_from(sorted(ACTIONS)), data=st.data(), use_tid=st.booleans(),
       raw=st.one_of(st.none(), st.binary(max_size=100)), auth=st.sampled_from(["good", "none", "junk"]))
def test_api_actions_fuzz_never_5xx(fuzz_store, action, data, use_tid, raw, auth) -> None:  # noqa: ANN001
    store, tid, token = fuzz_store
    body = data.draw(_body(ACTIONS[action]))
    ticket = tid if use_tid else data.draw(st.sampled_from(["", "x", "T" * 300, "%00", "..", "app:FZ-1"]))
    headers = {"Content-Type": "application/json"}
    if auth == "good":
        headers["Authorization"] = f"Bearer {token}"
    elif auth == "junk":
        headers["Authorization"] = data.draw(st.sampled_from(["Bearer ", "Basic eA==", "Bearer hub_x", "bearer"]))
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        r = c.post(f"/api/v1/tickets/{ticket}/{action}",
                   content=raw if raw is not None else json.dumps(body).encode(), headers=headers)
    _check(r)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["limit", "due_soon", "overdue", "status", "urgency", "handler",
                                               "q", "reveal", "offset", "source"]),
                              st.one_of(st.text(max_size=20), st.integers().map(str),
                                        st.sampled_from(["-1", "0", "501", "true", "yes", "\x00", "１"])),
                              max_size=4),
       path=st.sampled_from(["/api/v1/queue", "/api/v1/me", "/api/v1/tickets/{tid}", "/api/v1/tickets/nope"]))
def test_api_queries_fuzz_never_5xx(fuzz_store, params, path) -> None:  # noqa: ANN001
    store, tid, token = fuzz_store
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        r = c.get(path.format(tid=tid), params=params, headers={"Authorization": f"Bearer {token}"})
    _check(r)
    if path == "/api/v1/queue" and params.get("limit") in ("0", "501", "-1"):
        assert r.status_code == 422  # out of range is refused, with the reason

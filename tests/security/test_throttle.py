"""Hole 6 (item 5): the sign-in throttle cannot be turned against users.

Per (user, client) with a growing delay, kept in the store (a restarted or second server
sees the same counters), `X-Forwarded-For` believed only from HUB_TRUSTED_PROXIES, and the
moment a key starts waiting is an audit event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.configfile import reload_config
from core.schema import utcnow
from core.security_settings import get_security_settings
from hub.backoffice.audit import recent
from hub.backoffice.throttle import record_failure, throttle_key, wait_seconds
from hub.backoffice.users import add_user
from hub.store.db import Store
from tests.security.helpers import console_login
from web.app import create_app
from web.server import serve_in_thread

PW = "throttle-pass-1"


@pytest.fixture
def office(store: Store) -> Store:
    with store.begin() as conn:
        for name in ("zhang.wei", "li.na"):
            add_user(conn, name, PW, team="cards", role="handler")
    return store


def _fail_until_locked(url: str, user: str, headers: dict[str, str] | None = None) -> int:
    codes = [console_login(url, user, "wrong-password", headers)[1].status_code
             for _ in range(get_security_settings().login_free_failures + 1)]
    return console_login(url, user, "wrong-password", headers)[1].status_code if codes[-1] == 401 else codes[-1]


def test_one_user_is_slowed_not_the_office_and_counters_survive_a_restart(office: Store) -> None:
    with serve_in_thread(create_app(office)) as srv:
        assert _fail_until_locked(srv.url, "zhang.wei") == 429
        assert console_login(srv.url, "zhang.wei", PW)[1].status_code == 429  # even the right password waits
        assert console_login(srv.url, "li.na", PW)[1].status_code == 303  # a colleague at the same address
    with serve_in_thread(create_app(office)) as again:  # a restart (or another API process)
        assert console_login(again.url, "zhang.wei", PW)[1].status_code == 429
    with office.begin() as conn:
        locks = recent(conn, kind="login_locked")
    assert [e["subject"] for e in locks] == [throttle_key("zhang.wei", "127.0.0.1")]


def test_delay_grows_and_ends(store: Store) -> None:
    cfg = get_security_settings()
    now = utcnow()
    key = throttle_key("wang.fang", "10.1.2.3")
    with store.begin() as conn:
        delays = [record_failure(conn, key, now + timedelta(seconds=i)) for i in range(cfg.login_free_failures + 4)]
    free, paid = delays[:cfg.login_free_failures], delays[cfg.login_free_failures:]
    assert free == [0.0] * cfg.login_free_failures
    assert paid == [cfg.login_base_delay * 2 ** i for i in range(4)]
    with store.begin() as conn:
        last = now + timedelta(seconds=len(delays) - 1)
        assert wait_seconds(conn, key, last) == pytest.approx(paid[-1])
        assert wait_seconds(conn, key, last + timedelta(seconds=paid[-1] + 1)) == 0


@pytest.fixture
def behind_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_TRUSTED_PROXIES", "127.0.0.1")
    reload_config()
    yield
    monkeypatch.delenv("HUB_TRUSTED_PROXIES")
    reload_config()


def test_forwarded_for_is_ignored_unless_from_a_trusted_proxy(office: Store) -> None:
    with serve_in_thread(create_app(office)) as srv:
        assert _fail_until_locked(srv.url, "zhang.wei", {"X-Forwarded-For": "10.0.0.1"}) == 429
        # a forged header does not buy a fresh counter: the peer (loopback) is no configured proxy
        assert console_login(srv.url, "zhang.wei", PW, {"X-Forwarded-For": "10.9.9.9"})[1].status_code == 429


def test_forwarded_for_from_a_trusted_proxy_names_the_client(office: Store, behind_proxy: None) -> None:
    with serve_in_thread(create_app(office)) as srv:
        assert _fail_until_locked(srv.url, "zhang.wei", {"X-Forwarded-For": "10.0.0.1"}) == 429
        assert console_login(srv.url, "zhang.wei", PW, {"X-Forwarded-For": "10.0.0.2"})[1].status_code == 303
    with office.begin() as conn:
        assert recent(conn, kind="login_locked")[0]["subject"] == throttle_key("zhang.wei", "10.0.0.1")

"""One console server for the module over a SQLite store with users and seeded tickets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from core.schema import Explanation
from hub.backoffice.users import add_user
from hub.store.db import Store
from tests.api.seed import make_ticket, seed
from web.app import create_app
from web.server import serve_in_thread

PASSWORD = "correct-horse-9"
XSS = "<script>alert('xss')</script>"


@dataclass
class Console:
    url: str
    store: Store
    ids: dict[str, str]


@pytest.fixture(scope="module")
def console_app(tmp_path_factory: pytest.TempPathFactory, hub_env: Path) -> Iterator[Console]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('console') / 'hub.db'}")
    store.upgrade()
    with store.begin() as conn:
        add_user(conn, "zhang.wei", PASSWORD, team="cards", role="handler", display_name="张伟")
        add_user(conn, "lead.cards", PASSWORD, team="cards", role="lead")
    items = {
        "breach": make_ticket("CON-breach", team="cards", title="信用卡被盗刷两笔，要求冻结并退款",
                              due_in=timedelta(hours=-3), source="gov12315"),
        "warning": make_ticket("CON-warning", team="cards", title="分期手续费计算有误", due_in=timedelta(minutes=40),
                               source="blackcat"),
        "ok": make_ticket("CON-ok", team="cards", title="年费未经同意扣收", due_in=timedelta(hours=20)),
        "xss": make_ticket("CON-xss", team="cards", title=f"{XSS}账单异常", content=f"内容 {XSS} <b>粗体</b>",
                           due_in=timedelta(hours=30), source="callcenter"),
        "act": make_ticket("CON-act", team="cards", title="积分兑换商品未到货", due_in=timedelta(hours=10)),
        "other": make_ticket("CON-other", team="payments", title="转账未到账", due_in=timedelta(hours=1)),
        "review": make_ticket("CON-review", team="cards", title="收到短信说卡被冻结，让我点链接", due_in=timedelta(hours=40)),
    }
    unsure = items["review"]  # the judge was unsure: marked for review, a person decides
    unsure.judgement.needs_review, unsure.judgement.confidence = True, 0.41
    unsure.explanations["review"] = Explanation(value="needs_review", reason="原因判断置信度低（0.41）")
    seed(store, list(items.values()))
    with serve_in_thread(create_app(store)) as srv:
        yield Console(url=srv.url, store=store, ids={k: t.ticket_id for k, t in items.items()})
    store.dispose()

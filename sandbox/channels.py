"""Render one matter into each source's own record shape (docs/raw-records.md).

Each `render_<source>` returns `(external_id, payload)`; it reads the matter,
the customer and the generator's random stream, and nothing else.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox import texts
from sandbox.people import Customer
from sandbox.texts import Topic

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
LONG_TEXT = 5000


@dataclass
class Matter:
    """One customer's issue; may be told on several channels."""

    key: str
    customer: Customer
    topic: Topic
    amount: Decimal | None
    escalation: str | None
    created: datetime
    product: str
    branch: str
    city: tuple[str, str, str, str]
    incident: str | None = None
    channels: set[str] = field(default_factory=set)


@dataclass
class Style:
    """Per-record edge-case choices (all valid data, not malformed)."""

    emoji: bool = False
    long: bool = False
    html: bool = False
    fullwidth: bool = False

    def tags(self) -> list[str]:
        return [n for n in ("emoji", "long", "html", "fullwidth") if getattr(self, n)]


def fmt_sec(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def fmt_min(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def iso_min(at: datetime) -> str:
    return at.replace(second=0, microsecond=0).isoformat()


@functools.lru_cache(maxsize=4096)
def deadline_after(day: date, working_days: int = 10) -> date:
    """The date `working_days` Chinese working days after `day` (holidays and 调休 included)."""
    try:
        from chinese_calendar import is_workday
    except ImportError:  # pragma: no cover - the dependency is declared
        def is_workday(d: date) -> bool:
            return d.weekday() < 5
    d, left = day, working_days
    while left:
        d += timedelta(days=1)
        try:
            work = is_workday(d)
        except NotImplementedError:  # outside the library's known years
            work = d.weekday() < 5
        if work:
            left -= 1
    return d


def _fill(rng: random.Random, m: Matter, text: str) -> str:
    when = m.created - timedelta(days=rng.randint(0, 5))
    return text.format_map({"amount": _plain_amount(m.amount), "product": m.product, "branch": m.branch,
                            "date": f"{when.month}月{when.day}日"})


def _plain_amount(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    return f"{amount:.0f}" if amount == amount.to_integral() else f"{amount:.2f}"


def _decorate(rng: random.Random, text: str, style: Style, pool: tuple[str, ...]) -> str:
    if style.html:
        text = rng.choice(texts.MALICIOUS) + text
    if style.emoji:
        text += rng.choice(texts.EMOJI) * rng.randint(1, 3)
    if style.long:
        filler = "".join(rng.choice(pool) + "。" for _ in range(5)) or "补充说明。"
        while len(text) < LONG_TEXT:
            text += filler
        text = text[:LONG_TEXT]
    return text


def _attachments(rng: random.Random, base: str, share: float) -> list[dict[str, str]]:
    if rng.random() >= share:
        return []
    names = rng.sample(texts.ATTACHMENT_NAMES, rng.randint(1, 2))
    return [{"name": n, "url": f"{base}/{i + 1}"} for i, n in enumerate(names)]


def render_gov12315(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    c, t = m.customer, m.topic
    prov, city, district, code = m.city
    reg_no = f"12{code[:4]}00{at:%Y%m%d}{seq % 1_000_000:06d}"
    facts = "".join(_fill(rng, m, f) for f in t.facts)
    content = rng.choice(texts.FORMAL_OPENERS) + facts
    if m.escalation:
        content += f"投诉人表示：{m.escalation}。"
    content += rng.choice(texts.FORMAL_CLOSERS)
    content = _decorate(rng, content, Style(html=style.html, long=style.long), t.facts)
    phone = c.mobile
    if rng.random() < 0.5:
        phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    if style.fullwidth:
        phone = phone.translate(FULLWIDTH)
    demands = "、".join(rng.sample(t.demands, rng.randint(1, len(t.demands))))
    payload: dict[str, Any] = {
        "reg_no": reg_no,
        "complainant": c.name,
        "phone": phone,
        "respondent": f"{texts.COMPANY_FULL}{city.removesuffix('市')}分行",
        "region": f"{prov}{city}{district}" if prov != city else f"{city}{district}",
        "content": content,
        "demands": demands,
        "registered_at": fmt_sec(at),
        "deadline": deadline_after(at.date()).isoformat(),
        "status": "待处理",
        "attachments": _attachments(rng, f"/files/{reg_no}", 0.3),
    }
    if rng.random() < 0.6:
        payload["id_number"] = c.id_number
    if rng.random() < 0.7:
        payload["title"] = rng.choice(t.title)
    if m.amount is not None:
        payload["amount"] = f"{m.amount:.2f}元"
    return reg_no, payload


def render_blackcat(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    c, t = m.customer, m.topic
    sn = f"173{(seq * 7 + 10_000_000) % 100_000_000:08d}"
    title = _fill(rng, m, rng.choice(t.informal_title))
    body = "，".join(_fill(rng, m, s) for s in rng.sample(t.casual, len(t.casual)))
    body += "，" + rng.choice(texts.CASUAL_TAILS)
    if m.escalation:
        body += "，" + m.escalation
    body = _decorate(rng, body + "！", style, t.casual)
    payload: dict[str, Any] = {
        "sn": sn,
        "title": title,
        "target": texts.COMPANY,
        "problem": t.problem,
        "demands": rng.sample(t.demands, rng.randint(1, len(t.demands))),
        "content": body,
        "user_nick": c.nick,
        "created_at": fmt_min(at),
        "status": "审核通过",
        "progress": [{"time": fmt_min(at), "text": "投诉已提交"},
                     {"time": fmt_min(at), "text": "审核通过，已分配给商家"}],
    }
    if m.amount is not None:
        amount = f"¥{m.amount:,.2f}元"
        payload["amount"] = amount.translate(FULLWIDTH) if style.fullwidth else amount
    if rng.random() < 0.4:
        payload["phone"] = c.mobile
    return sn, payload


def render_app(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    c, t = m.customer, m.topic
    fid = f"FB{at:%Y%m%d}{seq:04d}"
    content = "，".join(_fill(rng, m, s) for s in rng.sample(t.casual, rng.randint(1, len(t.casual))))
    if m.escalation:
        content += "，" + m.escalation
    tail = rng.choice(texts.APP_TAILS)
    content = _decorate(rng, content + ("，" + tail if tail else ""), style, t.casual)
    stamp = iso_min(at)
    payload: dict[str, Any] = {
        "id": fid,
        "user": {"user_id": c.user_id, "name": c.name, "mobile": c.mobile,
                 "id_no": c.id_number if rng.random() < 0.5 else None,
                 "vip_level": c.vip_level, "age": c.age(at.year)},
        "category": t.app_category,
        "title": rng.choice(t.title),
        "content": content,
        "order_no": f"88{rng.randrange(10**10, 10**11)}" if rng.random() < 0.3 else None,
        "rating": rng.randint(1, 3) if rng.random() < 0.2 else None,
        "attachments": _attachments(rng, f"https://app.huaxin-bank.example/files/{fid}", 0.3),
        "status": "open",
        "reply": None,
        "created_at": stamp,
        "updated_at": stamp,
    }
    return fid, payload


def render_sms(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style) -> tuple[str, dict[str, Any]]:
    t = m.topic
    text = _fill(rng, m, rng.choice(t.sms))
    if m.escalation:
        text += "，" + m.escalation
    text = _decorate(rng, text, Style(emoji=style.emoji, html=style.html), t.sms)
    return sms_mo(at, seq, m.customer.mobile, text)


def sms_mo(at: datetime, seq: int, mobile: str, content: str, reply_to_out_id: str | None = None
           ) -> tuple[str, dict[str, Any]]:
    """An uplink message in the gateway's shape."""
    mo_id = f"MO{at:%Y%m%d%H%M}{seq % 100_000:05d}"
    return mo_id, {"mo_id": mo_id, "mobile": mobile, "content": content, "received_at": fmt_sec(at),
                   "dest_code": "10690123", "reply_to_out_id": reply_to_out_id}


def render_callcenter(rng: random.Random, m: Matter, at: datetime, seq: int, style: Style
                      ) -> tuple[str, dict[str, Any]]:
    c, t = m.customer, m.topic
    order_no = f"WO{at:%Y%m%d}{seq % 100_000:05d}"
    agent = f"A{rng.randint(1001, 1099)}"
    parts = [texts.AGENT_LINES[0].format(agent=agent)]
    for line in t.spoken:
        parts.append("".join(rng.sample(texts.FILLERS, rng.randint(1, 3))) + _fill(rng, m, line) + "。")
    if m.escalation:
        parts.append("嗯，" + m.escalation + "。")
    parts.append(rng.choice(texts.AGENT_LINES[1:]))
    transcript = _decorate(rng, "".join(parts), Style(long=style.long, html=style.html), t.spoken)
    payload: dict[str, Any] = {
        "order_no": order_no,
        "caller": c.mobile,
        "customer_name": c.name if rng.random() < 0.8 else None,
        "id_number": c.id_number if rng.random() < 0.4 else None,
        "agent_id": agent,
        "category_code": t.code,
        "transcript": transcript,
        "summary": t.summary,
        "created": fmt_sec(at),
        "updated": fmt_sec(at),
        "status": "10",
        "result": None,
    }
    return order_no, payload


RENDER = {"gov12315": render_gov12315, "blackcat": render_blackcat, "app": render_app,
          "sms": render_sms, "callcenter": render_callcenter}

# Which key is the id, the date, the content and the amount in each source (for malformed records).
FIELDS = {
    "gov12315": {"id": "reg_no", "date": "registered_at", "content": "content", "amount": "amount"},
    "blackcat": {"id": "sn", "date": "created_at", "content": "content", "amount": "amount"},
    "app": {"id": "id", "date": "created_at", "content": "content"},
    "sms": {"id": "mo_id", "date": "received_at", "content": "content"},
    "callcenter": {"id": "order_no", "date": "created", "content": "transcript"},
}
PORTALS = ("gov12315", "blackcat")
BAD_DATES = ("2026-13-45 25:61:00", "昨天下午", "2026/02/30", "0000-00-00 00:00:00")


def corrupt(rng: random.Random, source: str, payload: dict[str, Any]) -> str:
    """Make a record malformed in place; returns the key that was broken."""
    fields = FIELDS[source]
    kinds = [k for k in ("date", "id", "content", "amount") if k in fields and (k != "amount" or fields[k] in payload)]
    kind = rng.choice(kinds)
    key = fields[kind]
    if kind == "date":
        payload[key] = rng.choice(BAD_DATES)
    elif kind == "amount":
        payload[key] = "abc元" if source == "gov12315" else "¥abc元"
    elif source in PORTALS:
        payload[key] = ""  # a page shows an empty value, it cannot omit the label
    else:
        payload.pop(key, None)
    return key

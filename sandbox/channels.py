"""What every simulated system's renderer shares: the matter, edge-case styles, text helpers, malformed records.

Each system renders a matter into its own record shape (docs/raw-records.md)
in its module under `sandbox/systems/`; the helpers here read the matter, the
customer and the generator's random stream, and nothing else.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox import texts
from sandbox.people import Customer
from sandbox.texts import Topic

SHANGHAI = ZoneInfo("Asia/Shanghai")  # every simulated time is shown in this zone
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
        """The names of the edge cases this record carries (truth `edge`)."""
        return [n for n in ("emoji", "long", "html", "fullwidth") if getattr(self, n)]


def fmt_sec(at: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` (zone-less local time, as most sources show it)."""
    return at.strftime("%Y-%m-%d %H:%M:%S")


def fmt_min(at: datetime) -> str:
    """`YYYY-MM-DD HH:MM` (zone-less local time to the minute)."""
    return at.strftime("%Y-%m-%d %H:%M")


def iso_min(at: datetime) -> str:
    """ISO-8601 with offset, seconds dropped."""
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


def fill(rng: random.Random, m: Matter, text: str) -> str:
    """A topic phrase with the matter's amount, product, branch and a recent date filled in."""
    when = m.created - timedelta(days=rng.randint(0, 5))
    return text.format_map({"amount": plain_amount(m.amount), "product": m.product, "branch": m.branch,
                            "date": f"{when.month}月{when.day}日"})


def plain_amount(amount: Decimal | None) -> str:
    """An amount as people type it: no decimals when whole."""
    if amount is None:
        return ""
    return f"{amount:.0f}" if amount == amount.to_integral() else f"{amount:.2f}"


def decorate(rng: random.Random, text: str, style: Style, pool: tuple[str, ...]) -> str:
    """Apply the edge cases of `style` to a text (HTML prefix, emoji, padding to 5,000 characters)."""
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


def attachments(rng: random.Random, base: str, share: float) -> list[dict[str, str]]:
    """One or two attachments under `base` for a `share` of records, else none."""
    if rng.random() >= share:
        return []
    names = rng.sample(texts.ATTACHMENT_NAMES, rng.randint(1, 2))
    return [{"name": n, "url": f"{base}/{i + 1}"} for i, n in enumerate(names)]


@dataclass(frozen=True)
class RecordKeys:
    """Which payload key holds a source's id, date, content and (when it has one) amount.

    `corrupt` breaks one of them to make a malformed record; `bad_amount` is
    what a broken amount looks like on that source.
    """

    id: str
    date: str
    content: str
    amount: str | None = None
    bad_amount: str = "abc"


BAD_DATES = ("2026-13-45 25:61:00", "昨天下午", "2026/02/30", "0000-00-00 00:00:00")


def corrupt(rng: random.Random, keys: RecordKeys, payload: dict[str, Any], *, blank: bool) -> str:
    """Make a record malformed in place; returns the key that was broken.

    `blank`: the source is a page, which shows a missing id or content as an
    empty value (it cannot omit the label); an API omits the key instead.
    """
    fields = {"date": keys.date, "id": keys.id, "content": keys.content}
    if keys.amount is not None and keys.amount in payload:
        fields["amount"] = keys.amount
    kind = rng.choice(list(fields))
    key = fields[kind]
    if kind == "date":
        payload[key] = rng.choice(BAD_DATES)
    elif kind == "amount":
        payload[key] = keys.bad_amount
    elif blank:
        payload[key] = ""
    else:
        payload.pop(key, None)
    return key

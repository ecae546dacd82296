"""Deliver team messages (dispatch, reminders, ops notices) to their destinations.

Destinations come from `config/teams.yaml`:
- `webhook`: JSON POST signed with `X-Hub-Signature: sha256=HMAC(secret, ts + "." + body)`
  and `X-Hub-Timestamp` (receivers reject stale timestamps), plus `X-Hub-Idempotency-Key`
  so a retried delivery can be recognised;
- `wecom` / `dingtalk` group bots, `email`, or any `apprise` URL, through apprise;
- `queue`: the hub's own API/console queue — the ticket is already visible there, so
  delivery is immediate.
Messages carry masked personal data only, the deadline and a console link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from core.errors import ConfigError, TransientError
from core.logs import get_logger
from core.pii import scrub_text
from core.schema import Ticket, to_local
from core.secrets import resolve_plain, resolve_secret
from core.settings import get_settings
from hub import labels
from hub.store.summaries import OPEN_CLOCK_STATES, TicketFacts
from hub.teams import Destination, handler_name

log = get_logger(__name__)


@dataclass
class Message:
    """One notification, already masked: a title, a text body and a JSON document."""

    title: str
    text: str
    doc: dict[str, Any]


def ticket_link(ticket_id: str) -> str:
    """The console page of a ticket."""
    return f"{get_settings().console_base_url.rstrip('/')}/tickets/{ticket_id}"


def facts_of(t: Ticket) -> TicketFacts:
    """The facts a team message shows, taken from a whole Ticket (the drain reads them from the
    store directly: `hub.store.summaries.ticket_facts`)."""
    due = min((c.due_at for c in t.clocks if c.state.value in OPEN_CLOCK_STATES), default=None)
    return TicketFacts(
        ticket_id=t.ticket_id, source=t.source, external_id=t.external_id, title=t.matter.title,
        content=t.matter.content, name_masked=t.customer.name.masked() if t.customer.name else None,
        phone_masked=t.customer.phone.masked() if t.customer.phone else None,
        category=t.judgement.category.value if t.judgement.category else None, urgency=t.judgement.urgency.value,
        risk=t.judgement.risk_level.value, team=t.handling.team, handler=t.handling.handler,
        status=t.handling.status.value, deadline=due)


def ticket_summary(t: Ticket | TicketFacts) -> dict[str, Any]:
    """The masked facts a team needs to pick a ticket up."""
    f = facts_of(t) if isinstance(t, Ticket) else t
    return {
        "ticket_id": f.ticket_id, "source": f.source, "external_id": f.external_id,
        "title": scrub_text(f.title)[:120], "summary": scrub_text(f.content)[:300],
        "customer": {"name": f.name_masked, "phone": f.phone_masked},
        "category": f.category, "urgency": f.urgency, "risk": f.risk,
        "team": f.team, "handler": f.handler, "status": f.status,
        "deadline": to_local(f.deadline).strftime("%Y-%m-%d %H:%M") if f.deadline else None,
        "link": ticket_link(f.ticket_id),
    }


def dispatch_message(t: Ticket | TicketFacts) -> Message:
    """New ticket for a team."""
    s = ticket_summary(t)
    urgency, risk = labels.label(labels.URGENCY, s["urgency"]), labels.label(labels.RISK, s["risk"])
    title = f"[{urgency}] 新投诉 {s['ticket_id']}"
    text = (f"{title}\n来源: {labels.source_label(s['source'])} {s['external_id']}\n标题: {s['title']}\n"
            f"客户: {s['customer']['name'] or '-'} {s['customer']['phone'] or ''}\n"
            f"紧急程度: {urgency}  风险: {risk}  处理人: {handler_name(s['team'], s['handler'])}\n"
            f"处理期限: {s['deadline'] or '-'}\n{s['link']}")
    return Message(title=title, text=text, doc={"event": "dispatch", "ticket": s})


def reminder_message(t: Ticket | TicketFacts | None, payload: dict[str, Any]) -> Message:
    """A chase reminder (warning, breach, escalation) to named recipients."""
    s = ticket_summary(t) if t else {"ticket_id": payload.get("ticket_id"), "link": ticket_link(
        str(payload.get("ticket_id"))), "title": "", "deadline": payload.get("due_local")}
    level = payload.get("level", "")
    who = ", ".join(payload.get("recipients", []))
    title = f"[催办 {labels.reminder_level(level)}] {s['ticket_id']}"
    text = (f"{title}\n致: {who}\n标题: {s.get('title', '')}\n{labels.label(labels.CLOCK_KIND, payload.get('clock'))}时限: "
            f"{payload.get('due_local') or s.get('deadline') or '-'}\n{s['link']}")
    return Message(title=title, text=text, doc={"event": "reminder", **payload, "ticket": s})


def ops_message(payload: dict[str, Any]) -> Message:
    """An operator notice (e.g. an outbox row went dead)."""
    title = f"[hub ops] {payload.get('what', 'notice')}"
    # error texts may quote a source's answer: mask any number in them before it leaves the hub
    doc = json.loads(scrub_text(json.dumps({"event": "ops", **payload}, ensure_ascii=False, default=str)))
    return Message(title=title, text=scrub_text(f"{title}\n{json.dumps(payload, ensure_ascii=False, default=str)}"),
                   doc=doc)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body) — what receivers verify."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def apprise_url(dest: Destination) -> str | None:
    """Translate a destination into an apprise URL (bot webhooks given as https URLs included)."""
    url = resolve_plain(dest.url)
    if not url:
        return None
    secret = resolve_secret(dest.secret)
    u = urlparse(url)
    if dest.type == "wecom" and u.scheme in ("http", "https"):
        key = parse_qs(u.query).get("key", [""])[0]
        return f"wxteams://{key}"
    if dest.type == "dingtalk" and u.scheme in ("http", "https"):
        token = parse_qs(u.query).get("access_token", [""])[0]
        return f"dingtalk://{secret.get_secret_value() + '@' if secret else ''}{token}"
    if dest.type == "email" and dest.to and "to=" not in url:
        return f"{url}{'&' if '?' in url else '?'}to={','.join(dest.to)}"
    return url


async def send_webhook(client: httpx.AsyncClient, dest: Destination, msg: Message, key: str) -> dict[str, Any]:
    """POST the JSON document, signed; 2xx is delivered, 5xx/429/network errors are transient."""
    url = resolve_plain(dest.url)
    if not url:
        return {"type": "webhook", "skipped": "no url configured"}
    body = json.dumps(msg.doc, ensure_ascii=False, default=str, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Hub-Timestamp": ts, "X-Hub-Idempotency-Key": key}
    secret = resolve_secret(dest.secret)
    if secret:
        headers["X-Hub-Signature"] = sign(secret.get_secret_value(), ts, body)
    try:
        resp = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise TransientError(f"webhook unreachable: {type(exc).__name__}") from exc
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TransientError(f"webhook answered {resp.status_code}")
    if resp.status_code >= 400:
        raise ConfigError(f"webhook refused the message: {resp.status_code}")
    return {"type": "webhook", "status": resp.status_code}


async def send_apprise(dest: Destination, msg: Message) -> dict[str, Any]:
    """Group bots and email through apprise (a maintained notification library)."""
    import apprise  # heavy: loaded only when such a destination exists

    url = apprise_url(dest)
    if not url:
        return {"type": dest.type, "skipped": "no url configured"}
    ap = apprise.Apprise()
    if not ap.add(url):
        raise ConfigError(f"{dest.type}: apprise does not accept this destination URL")
    ok = await ap.async_notify(body=msg.text, title=msg.title)
    if not ok:
        raise TransientError(f"{dest.type}: delivery failed")
    return {"type": dest.type, "status": "sent"}


async def deliver(client: httpx.AsyncClient, destinations: list[Destination], msg: Message,
                  key: str) -> list[dict[str, Any]]:
    """Send one message to every destination; any failure raises (the row is retried whole,
    receivers dedupe on `X-Hub-Idempotency-Key`)."""
    out: list[dict[str, Any]] = []
    for dest in destinations:
        if dest.type == "queue":
            out.append({"type": "queue", "status": "visible"})
        elif dest.type == "webhook":
            out.append(await send_webhook(client, dest, msg, key))
        else:
            out.append(await send_apprise(dest, msg))
    return out

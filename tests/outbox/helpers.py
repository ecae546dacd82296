"""Test helpers for outbox/chase: ticket factory and a counting webhook receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.pii import get_vault
from core.schema import (
    Clock,
    ClockKind,
    Customer,
    Handling,
    Judgement,
    Matter,
    Source,
    Status,
    Ticket,
    Urgency,
    make_ticket_id,
)
from hub.store.db import Store
from hub.store.tickets import save_ticket, upsert_tickets

PHONE = "13812345678"


def make_ticket(ext: str, *, source: Source = "app", team: str | None = "cards", handler: str | None = "li.na",
                status: Status = Status.ASSIGNED, received: datetime, urgent: bool = False,
                first_hours: float = 4, resolution_hours: float = 48, phone: str | None = PHONE) -> Ticket:
    """A routed ticket with first-response and resolution clocks (warnings at 50 % and 75 %)."""
    def clock(kind: ClockKind, hours: float) -> Clock:
        due = received + timedelta(hours=hours)
        return Clock(kind=kind, policy="test", started_at=received, due_at=due,
                     warn_at=[received + timedelta(hours=hours * 0.5), received + timedelta(hours=hours * 0.75)])

    return Ticket(
        ticket_id=make_ticket_id(source, ext), source=source, external_id=ext, received_at=received,
        customer=Customer(name="王建国", phone=phone, phone_hash=get_vault().hash(phone) if phone else None),
        matter=Matter(title="信用卡年费争议", content="客户来电 13812345678 反映年费被扣"),
        judgement=Judgement(urgency=Urgency.URGENT if urgent else Urgency.GENERAL),
        handling=Handling(status=status, team=team, handler=handler, first_handler=handler),
        clocks=[clock(ClockKind.FIRST_RESPONSE, first_hours), clock(ClockKind.RESOLUTION, resolution_hours)],
    )


def put_ticket(store: Store, t: Ticket) -> Ticket:
    """Insert then save the full state (clocks, handling) as routing would."""
    with store.begin() as conn:
        upsert_tickets(conn, [t])
        save_ticket(conn, t)
    return t


class Receiver:
    """Counts deliveries per idempotency key and checks the HMAC signature of each."""

    def __init__(self, secret: str = "", fail_with: int | None = None):
        self.secret = secret
        self.fail_with = fail_with
        self.keys: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, headers: Any, body: bytes) -> int:
        if self.fail_with:
            return self.fail_with
        if self.secret:
            ts = headers.get("X-Hub-Timestamp", "")
            want = "sha256=" + hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, headers.get("X-Hub-Signature", "")):
                with self.lock:
                    self.bad_signatures += 1
                return 401
        with self.lock:
            self.keys[headers.get("X-Hub-Idempotency-Key", "")] += 1
            self.bodies.append(json.loads(body))
        return 200


@contextmanager
def webhook_receiver(secret: str = "", fail_with: int | None = None) -> Iterator[Receiver]:
    """A real HTTP server on a free loopback port, stopped on exit."""
    rec = Receiver(secret, fail_with)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = rec.handle(self.headers, body)
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    class Srv(ThreadingHTTPServer):
        request_queue_size = 512  # the push worker opens up to 16 connections per drain

    srv = Srv(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    rec.url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    try:
        yield rec
    finally:
        srv.shutdown()
        srv.server_close()

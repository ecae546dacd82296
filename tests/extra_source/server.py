"""A self-service kiosk (自助服务终端) complaint system: the smallest real HTTP source there is.

JSON over HTTP on 127.0.0.1, an API key in `X-Api-Key`, a cursor-paginated feed in
arrival order, and a status endpoint that honours `Idempotency-Key`. It offers the
same control surface as the sandbox (`records`, `generate`, `truth`, `writes`,
`set_faults`, `expire_sessions`), so the shared connector contract runs against it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "kiosk-demo-key"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEXTS = ("自助终端吞卡，卡片至今没有退回，已经等了两天", "终端打印的对账单金额和手机银行显示的不一致",
         "在网点自助机上转账扣了款但对方没有收到", "自助机提示系统维护，排队半小时也没能办理", "终端屏幕显示我的姓名和手机号，担心信息泄露")


class KioskServer:
    """The kiosk system on a free loopback port (uvicorn in a thread); `stop()` ends it."""

    def __init__(self, backlog: int = 12, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self._seq = itertools.count(1)
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
        self.items: list[dict[str, Any]] = []
        self.write_log: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}
        self.throttle_next = 0
        self.retry_after = 1
        self.error_rate = 0.0
        self.error_next = 0
        self.lock = threading.Lock()
        self.generate(backlog)
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- the data -----------------------------------------------------------------------

    def generate(self, n: int, source: str = "kiosk") -> list[tuple[str, str]]:
        """`n` new complaints now; (source, id) of each."""
        out = []
        with self.lock:
            for _ in range(n):
                seq = next(self._seq)
                self.now += timedelta(minutes=7)
                item = {"ticket_no": f"KS{seq:05d}", "seq": seq, "terminal": f"ATM-{self.rng.randint(100, 999)}",
                        "reported_at": self.now.strftime("%Y-%m-%d %H:%M:%S"), "text": self.rng.choice(TEXTS),
                        "mobile": f"139{self.rng.randint(10000000, 99999999)}", "state": "open"}
                self.items.append(item)
                out.append((source, item["ticket_no"]))
        return out

    def records(self, source: str) -> list[dict[str, Any]]:
        """The payloads the system holds now (copies)."""
        with self.lock:
            return [dict(i) for i in self.items]

    def truth(self, source: str) -> list[dict[str, Any]]:
        """Ground truth for the contract suite: nothing here is malformed."""
        return [{"external_id": i["ticket_no"], "malformed": False} for i in self.records(source)]

    def writes(self, source: str | None = None) -> list[dict[str, Any]]:
        """Every status write the system applied (once per idempotency key)."""
        with self.lock:
            return list(self.write_log)

    def set_faults(self, source: str, *, throttle_next: int = 0, retry_after: int = 1,
                   error_rate: float = 0.0, error_next: int = 0) -> None:
        """The next `throttle_next` requests get 429 with Retry-After, the `error_next` after them 503,
        and `error_rate` of the rest 503."""
        self.throttle_next, self.retry_after, self.error_rate = throttle_next, retry_after, error_rate
        self.error_next = error_next

    def faults(self, source: str) -> dict[str, Any]:
        """The fault settings left, in the sandbox's keys."""
        return {"throttle_next": self.throttle_next, "error_next": self.error_next, "error_rate": self.error_rate}

    def expire_sessions(self, source: str | None = None) -> int:
        """An API key has no session to expire."""
        return 0

    # --- HTTP ---------------------------------------------------------------------------

    def _fault(self, request: Request) -> Response | None:
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"error": "bad api key"}, status_code=401)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": str(self.retry_after)})
        if self.error_next > 0:
            self.error_next -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        if self.error_rate and self.rng.random() < self.error_rate:
            return JSONResponse({"error": "busy"}, status_code=503)
        return None

    async def feed(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        after = int(request.query_params.get("after") or 0)
        limit = min(int(request.query_params.get("limit") or 50), 100)
        with self.lock:
            page = [dict(i) for i in self.items if i["seq"] > after][:limit]
            more = bool(page) and any(i["seq"] > page[-1]["seq"] for i in self.items)
        return JSONResponse({"items": page, "next": str(page[-1]["seq"]) if page else str(after), "more": more})

    async def status(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        ticket_no = request.path_params["ticket_no"]
        key = request.headers.get("idempotency-key", "")
        body = await request.json()
        with self.lock:
            item = next((i for i in self.items if i["ticket_no"] == ticket_no), None)
            if item is None:
                return JSONResponse({"error": "unknown ticket"}, status_code=404)
            if key in self.replies:
                return JSONResponse(self.replies[key], headers={"Idempotent-Replayed": "true"})
            item["state"] = str(body.get("state") or item["state"])
            doc = {"ticket_no": ticket_no, "state": item["state"], "at": time.time()}
            self.replies[key] = doc
            self.write_log.append({"source": "kiosk", "external_id": ticket_no, "kind": "status",
                                   "idempotency_key": key, "data": body})
        return JSONResponse(doc)

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1; the base URL."""
        app = Starlette(routes=[Route("/api/feed", self.feed), Route("/api/tickets/{ticket_no}/status", self.status,
                                                                     methods=["POST"])])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[sock])), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

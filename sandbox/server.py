"""`Sandbox`: the five systems on loopback, in-process, with a Python control API.

All five uvicorn servers run in one background thread (one event loop); the
sockets are bound before the thread starts, so port 0 works and the URLs are
known at once. `stop()` ends hung requests and returns in well under a second.
The systems are the registry's (sandbox.systems.SYSTEMS), in its order: the
i-th system listens on `port + i`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from sandbox.admin import admin_router
from sandbox.faults import FaultMiddleware
from sandbox.state import SandboxState
from sandbox.system import SimulatedSystem
from sandbox.systems import SOURCES, SYSTEMS

HOST = "127.0.0.1"


def build_app(system: SimulatedSystem, state: SandboxState) -> FastAPI:
    """One system's app: its own routes, the admin routes and the fault middleware."""
    app = system.create_app(state)
    # Admin paths all start with /__admin, which no system route matches, so mounting them last is safe.
    app.include_router(admin_router(state, system.key))
    app.add_middleware(FaultMiddleware, source=system.key, get_faults=lambda s: state.faults[s],
                       stopping=state.stopping, html=system.html)
    return app


def _apps(state: SandboxState) -> dict[str, Any]:
    return {key: build_app(system, state) for key, system in SYSTEMS.items()}


class Sandbox:
    """The five simulated source systems with one shared state and simulated clock."""

    def __init__(self, seed: int = 1, rate: float = 60, backlog: int = 50, faults: dict[str, Any] | None = None,
                 start: datetime | None = None, *, burst_size: int = 200, burst_at_minutes: float | None = None,
                 malformed_rate: float = 0.02, survey_reply_prob: float = 0.6,
                 survey_answers: dict[str, float] | None = None, speed: float = 0.0) -> None:
        self.state = SandboxState(seed=seed, rate=rate, backlog=backlog, start=start, faults=faults,
                                  burst_size=burst_size, burst_at_minutes=burst_at_minutes,
                                  malformed_rate=malformed_rate, survey_reply_prob=survey_reply_prob,
                                  survey_answers=survey_answers)
        self.speed = speed
        self.urls: dict[str, str] = {}
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self, port: int = 0, host: str = HOST) -> dict[str, str]:
        """Serve all five systems (ports port..port+4, or free ports when 0); returns {source: base URL}."""
        if self._thread is not None:
            return self.urls
        self.state.stopping.clear()
        socks: list[socket.socket] = []
        try:
            for i, _ in enumerate(SOURCES):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port + i if port else 0))
                s.listen(128)
                s.setblocking(False)
                socks.append(s)
        except OSError:
            for s in socks:
                s.close()
            raise
        apps = _apps(self.state)
        self._servers = []
        for src in SOURCES:
            cfg = uvicorn.Config(apps[src], log_level="warning", access_log=False, lifespan="off",
                                 timeout_graceful_shutdown=1, timeout_keep_alive=5)
            self._servers.append(uvicorn.Server(cfg))
        self.urls = {src: f"http://{host}:{s.getsockname()[1]}" for src, s in zip(SOURCES, socks, strict=True)}

        async def serve_all() -> None:
            await asyncio.gather(*(srv.serve(sockets=[sk]) for srv, sk in zip(self._servers, socks, strict=True)))

        self._socks = socks
        self._thread = threading.Thread(target=asyncio.run, args=(serve_all(),), name="sandbox-servers", daemon=True)
        self._thread.start()
        self._wait_ready()
        if self.speed > 0:
            self._ticker = threading.Thread(target=self._tick, name="sandbox-clock", daemon=True)
            self._ticker.start()
        return dict(self.urls)

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.urls)
        while pending:
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox systems did not answer: {sorted(pending)}")
            for src, url in list(pending.items()):
                try:
                    with urllib.request.urlopen(f"{url}/__admin/health", timeout=1) as r:
                        if r.status == 200:
                            del pending[src]
                except OSError:
                    pass
            if pending:
                time.sleep(0.01)

    def _tick(self) -> None:
        last = time.monotonic()
        while not self.state.stopping.wait(1.0):
            now = time.monotonic()
            self.state.advance(self.speed * (now - last) / 60)
            last = now

    def stop(self) -> None:
        """Stop all servers (hung requests end at once)."""
        self.state.stopping.set()
        for srv in self._servers:
            srv.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
            if self._thread.is_alive():
                for srv in self._servers:
                    srv.force_exit = True
                self._thread.join(5)
        if self._ticker is not None:
            self._ticker.join(2)
        for s in getattr(self, "_socks", []):
            s.close()
        self._thread = self._ticker = None
        self._servers = []

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control API (same operations as /__admin) ------------------------------
    def advance(self, minutes: float) -> int:
        """Move the simulated clock; returns the number of new records."""
        return self.state.advance(minutes)

    def now(self) -> datetime:
        """The simulated time (aware, Asia/Shanghai)."""
        return self.state.now

    def set_faults(self, source: str, **kw: Any) -> dict[str, Any]:
        """Change some fault settings of `source`; returns all of them."""
        return self.state.set_faults(source, **kw).model_dump()

    def faults(self, source: str | None = None) -> dict[str, Any]:
        """One source's fault settings, or `{source: settings}` for all."""
        if source:
            return self.state.faults[source].model_dump()
        return {s: f.model_dump() for s, f in self.state.faults.items()}

    def writes(self, source: str | None = None) -> list[dict[str, Any]]:
        """The writes the systems accepted (see README "Write entry")."""
        return self.state.writes(source)

    def truth(self, source: str | None = None) -> list[dict[str, Any]]:
        """The ground truth of every generated record (see README "Truth entry")."""
        return self.state.truth(source)

    def records(self, source: str) -> list[dict[str, Any]]:
        """Current payloads of one source (copies)."""
        import copy

        with self.state.lock:
            return [copy.deepcopy(r.payload) for r in self.state.listing(source)]

    def sms_code(self) -> str | None:
        """The latest 12315 login code, or None once used / before any login."""
        code = self.state.sms_code
        return code["code"] if code else None

    def inject(self, source: str, fields: dict[str, Any] | None = None, kind: str = "complaint",
               malformed: bool = False) -> str:
        """Add one record now (`fields` override payload keys); returns its external id."""
        return self.state.inject(source, fields, kind, malformed)

    def generate(self, n: int, source: str | None = None) -> list[tuple[str, str]]:
        """`n` new complaints now (on `source`, or mixed); returns `(source, external_id)` pairs."""
        return self.state.generate(n, source)

    def burst(self, size: int = 20, minutes: float = 30) -> str:
        """Schedule a mass-fault burst over the next `minutes`; returns its incident id."""
        return self.state.burst(size, minutes)

    def expire_sessions(self, source: str | None = None) -> int:
        """Expire portal sessions and API tokens (all, or one source's); returns how many."""
        return self.state.expire_sessions(source)

    def reset(self) -> None:
        """Regenerate everything from the seed; writes, sessions and faults start over."""
        self.state.reset()

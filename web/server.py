"""Run the app with uvicorn, in the foreground (CLI) or in a background thread (tests, demos)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


@dataclass
class RunningServer:
    """Where a background server listens: host and the port it bound."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host}:{self.port}"


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0,
                    timeout: float = 20.0) -> Iterator[RunningServer]:
    """Serve `app` on host:port (0 = a free port) in a thread; stopped on exit."""
    # proxy_headers=False: X-Forwarded-* are believed only from HUB_TRUSTED_PROXIES (web.limits)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", proxy_headers=False,
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hub-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"API server did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(host=host, port=bound)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8300) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True, proxy_headers=False)

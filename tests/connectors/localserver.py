"""A tiny programmable HTTP server on 127.0.0.1 for the HTTP-layer tests (uvicorn in a thread)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class Behaviour:
    """Counters shared between the server thread and the test."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = defaultdict(int)
        self.seen: list[dict[str, Any]] = []
        self.token_fetches = 0
        self.valid_tokens: set[str] = set()
        self.token_ttl = 3600


def make_app(b: Behaviour) -> Starlette:
    async def flaky(request: Request) -> Response:
        q = request.query_params
        key = q.get("key", "k")
        b.calls[key] += 1
        b.seen.append({"path": request.url.path, "query": dict(q), "headers": dict(request.headers),
                       "t": time.monotonic()})
        if b.calls[key] <= int(q.get("fail", "0")):
            headers = {"Retry-After": q["retry_after"]} if "retry_after" in q else {}
            return JSONResponse({"error": "boom", "access_token": "leaky-secret-token"},
                                status_code=int(q.get("code", "503")), headers=headers)
        return JSONResponse({"ok": True, "calls": b.calls[key]})

    async def slow(request: Request) -> Response:
        key = request.query_params.get("key", "slow")
        b.calls[key] += 1
        await asyncio.sleep(float(request.query_params.get("seconds", "1")))
        return JSONResponse({"ok": True})

    async def token(request: Request) -> Response:
        form = await request.form()
        if form.get("client_secret") != "s3cret-value":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        b.token_fetches += 1
        tok = f"tok{b.token_fetches}"
        b.valid_tokens.add(tok)
        return JSONResponse({"access_token": tok, "token_type": "Bearer", "expires_in": b.token_ttl})

    async def protected(request: Request) -> Response:
        b.calls["protected"] += 1
        auth = request.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in b.valid_tokens:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"ok": True, "token": auth.removeprefix("Bearer ")})

    async def garbled(request: Request) -> Response:
        return Response("<html>oops 13812345678</html>", status_code=200)

    return Starlette(routes=[Route("/flaky", flaky, methods=["GET", "POST"]), Route("/slow", slow),
                             Route("/oauth/token", token, methods=["POST"]), Route("/protected", protected),
                             Route("/garbled", garbled)])


class LocalServer:
    """uvicorn on a free loopback port, in a daemon thread."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        config = uvicorn.Config(make_app(self.behaviour), host="127.0.0.1", port=0, log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("local server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

"""Start-up cost of a scheduled run on a worker: process start → Completed, against a real `prefect server`.

A process worker starts one Python process per flow run; what that process costs before and
after the hub's own work is what every scheduled run pays. Measured here the way the worker
runs it (a fresh interpreter that imports the entrypoint and runs the flow against the API):
- `hub`: an empty `sync-source` run of `app` (the sandbox's backlog already pulled);
- baseline: a bare `@flow` that does nothing, in the same kind of process.
Each is run `n` times; the median wall time is reported.

    .venv/bin/python -m bench.startup
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HUB_RUN = "from flows.sync import sync_source\nsync_source(source='app')\n"
BARE_RUN = "from prefect import flow\n\n@flow(name='bare')\ndef bare() -> None:\n    pass\n\nbare()\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-1500:])
    return secs


def measure(n: int = 3) -> dict[str, Any]:
    """Median seconds of an empty hub sync run and of a bare flow run, each in a fresh process."""
    from sandbox import Sandbox

    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HUB_HOME": str(tmp / "home"),
           "HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}"}
    env.pop("PREFECT_SERVER_EPHEMERAL_ENABLED", None)
    sb = Sandbox(seed=1, rate=0, backlog=30)
    sb.start(port=0)
    (tmp / "urls.json").write_text(json.dumps(sb.urls))
    env["HUB_SOURCE_URLS"] = str(tmp / "urls.json")
    server = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
                               "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        subprocess.run([str(Path(sys.executable).parent / "hub"), "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        _timed(HUB_RUN, env)  # pulls the backlog: the measured runs find nothing new
        _timed(BARE_RUN, env)
        hub = [_timed(HUB_RUN, env) for _ in range(n)]
        bare = [_timed(BARE_RUN, env) for _ in range(n)]
    finally:
        server.terminate()
        server.wait(timeout=30)
        sb.stop()
    return {"seconds": statistics.median(hub), "baseline_seconds": statistics.median(bare), "runs": hub,
            "baseline_runs": bare}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))  # noqa: T201

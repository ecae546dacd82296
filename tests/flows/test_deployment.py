"""A real `prefect server` + process worker on loopback runs a deployment end to end.

`prefect deploy --all` (prefect.yaml) must succeed against the server, and the
worker must run the app sync deployment against the sandbox into a SQLite store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError("prefect server did not become healthy")


def _scheduled_runs(api: str, flow: str, deployment: str, timeout: float) -> int:
    dep = httpx.get(f"{api}/deployments/name/{flow}/{deployment}", timeout=10).json()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = httpx.post(f"{api}/flow_runs/filter", timeout=10, json={
            "deployments": {"id": {"any_": [dep["id"]]}}, "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            "limit": 10}).json()
        if runs:
            return len(runs)
        time.sleep(2)
    return 0


def _wait_for_completed_run(api: str, flow: str, deployment: str, timeout: float) -> list[str]:
    dep = httpx.get(f"{api}/deployments/name/{flow}/{deployment}", timeout=10).json()
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while time.monotonic() < deadline:
        runs = httpx.post(f"{api}/flow_runs/filter", timeout=10, json={
            "deployments": {"id": {"any_": [dep["id"]]}}, "limit": 50}).json()
        states = [r["state"]["type"] for r in runs if r.get("state")]
        if "COMPLETED" in states or {"FAILED", "CRASHED"} & set(states):
            return states
        time.sleep(2)
    return states


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # an idle worker needs a second SIGINT
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.timeout(600)
def test_deploy_all_and_worker_runs_app_sync(sandbox, tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    urls_file = tmp_path / "sandbox-urls.json"
    urls_file.write_text(json.dumps(sandbox.urls))
    db_path = tmp_path / "hub.db"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HUB_REPO_DIR": str(REPO),
           "HUB_SOURCE_URLS": str(urls_file), "HUB_DATABASE_URL": f"sqlite:///{db_path}",
           "HUB_HOME": str(tmp_path / "hub-home"), "PREFECT_WORKER_QUERY_SECONDS": "2",
           "PREFECT_WORKER_PREFETCH_SECONDS": "5", "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5"}
    env.pop("PREFECT_SERVER_EPHEMERAL_ENABLED", None)
    server = worker = None
    try:
        server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_healthy(api, server)
        subprocess.run([str(Path(sys.executable).parent / "hub"), "db", "upgrade"], env=env, cwd=REPO, check=True,
                       capture_output=True)
        subprocess.run([PREFECT, "work-pool", "create", "hub-pool", "--type", "process", "--overwrite"],
                       env=env, cwd=REPO, check=True, capture_output=True)
        deploy = subprocess.run([PREFECT, "--no-prompt", "deploy", "--all"], env=env, cwd=REPO,
                                capture_output=True, text=True, timeout=300)
        assert deploy.returncode == 0, deploy.stdout[-2000:] + deploy.stderr[-2000:]
        assert deploy.stdout.count("successfully created") >= 13
        # the server's scheduler turns the cron schedules into scheduled runs (this is what
        # broke silently with SQLAlchemy 2.1, so it is checked, not assumed)
        assert _scheduled_runs(api, "sync-source", "app", timeout=120) > 0
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "hub-pool", "--limit", "2"],
                                  env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([PREFECT, "deployment", "run", "sync-source/app"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120, check=True)
        # The manual run and the schedule's own runs compete: the deployment's concurrency
        # limit (1, CANCEL_NEW) cancels whichever arrives while another runs. What must hold:
        # a run of the deployment completes, and none fails or crashes.
        states = _wait_for_completed_run(api, "sync-source", "app", timeout=300)
        assert "COMPLETED" in states, f"no app sync completed: {states}"
        assert not {"FAILED", "CRASHED"} & set(states), states
    finally:
        _stop(worker)
        _stop(server)
    from hub.store.db import Store
    from hub.store.tables import tickets

    store = Store(f"sqlite:///{db_path}")
    with store.begin() as conn:
        n = conn.execute(select(func.count()).select_from(tickets).where(tickets.c.source == "app")).scalar()
    store.dispose()
    assert n > 0, "the worker's run routed no app tickets into the store"

"""`hub sync` after failures: a distinct exit code for "partly failed", full errors, counts kept; no orphan server.

Real processes: the `hub` command runs against the sandbox with two HTTP sources in an
outage and its own temporary Prefect server (`cli.prefect_server`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HUB = str(Path(sys.executable).parent / "hub")


def _env(tmp: Path, urls: dict[str, str]) -> dict[str, str]:
    (tmp / "urls.json").write_text(json.dumps(urls))
    env = {**os.environ, "HUB_SOURCE_URLS": str(tmp / "urls.json"), "HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}",
           "PREFECT_HOME": str(tmp / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)
    subprocess.run([HUB, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    return env


def _servers_of(pid: int) -> list[int]:
    """Processes started by `pid`'s temporary Prefect server (its session), still alive."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        serving = (b"server" in cmd and b"start" in cmd) or any(b"uvicorn" in c for c in cmd)  # ours or ephemeral
        if serving and int(stat[1]) == pid:  # ppid == the CLI
            out.append(int(d.name))
    return out


@pytest.mark.timeout(400)
def test_partly_failed_sync_exits_3_with_full_errors_and_every_count(sandbox_factory, tmp_path: Path) -> None:  # noqa: ANN001
    sb = sandbox_factory(seed=3, backlog=20, rate=10, faults={"callcenter": {"outage_after": 0}})
    env = _env(tmp_path, sb.urls)
    proc = subprocess.run([HUB, "sync", "--all", "--json"], env=env, capture_output=True, text=True, timeout=380)
    assert proc.returncode == 3, proc.stderr[-2000:]
    doc = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert doc["exit_code"] == 3
    rows = {r["source"]: r for r in doc["sources"]}
    assert set(rows) == {"gov12315", "blackcat", "app", "sms", "callcenter"}  # the failed run kept every source
    assert rows["app"]["created"] > 0 and rows["callcenter"]["failed"] == 1
    assert "HTTP 5" in rows["callcenter"]["error"] and "gave up after" in rows["callcenter"]["error"]
    text = subprocess.run([HUB, "sync", "callcenter"], env=env, capture_output=True, text=True, timeout=380)
    assert text.returncode == 1  # the only source failed: the run failed, not "partly"
    line = next(x for x in text.stdout.splitlines() if x.startswith("error callcenter:"))
    assert "gave up after" in line  # the whole message on its own line, not cut in a cell


@pytest.mark.timeout(300)
def test_killed_command_leaves_no_prefect_server(sandbox_factory, tmp_path: Path) -> None:  # noqa: ANN001
    sb = sandbox_factory(seed=4, backlog=10, rate=10)
    env = _env(tmp_path, sb.urls)
    cli = subprocess.Popen([HUB, "sync", "app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    servers: list[int] = []
    while time.monotonic() < deadline and not servers:
        servers = _servers_of(cli.pid)
        time.sleep(0.2)
    assert servers, "the command never started its temporary Prefect server"
    time.sleep(2.0)
    cli.send_signal(signal.SIGKILL)
    cli.wait(timeout=30)
    gone_by = time.monotonic() + 30
    while time.monotonic() < gone_by and any(Path(f"/proc/{p}").exists() and
                                             "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]
                                             for p in servers):
        time.sleep(0.2)
    alive = [p for p in servers if Path(f"/proc/{p}").exists()
             and "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1][:3]]
    assert alive == [], f"the temporary Prefect server outlived the killed command: {alive}"

"""`hub sandbox serve` as a separate process: URLs file once all five answer, clean stop on SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]


def test_serve_writes_urls_and_stops_on_sigint(tmp_path: Path) -> None:
    urls_file = tmp_path / "urls.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cli import app; app()", "sandbox", "serve", "--port", "0", "--backlog", "10",
         "--seed", "3", "--faults", '{"app": {"latency_ms": 1}}', "--urls-file", str(urls_file)],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not urls_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "urls file never written"
            time.sleep(0.1)
        urls = json.loads(urls_file.read_text())
        assert set(urls) == {"gov12315", "blackcat", "app", "sms", "callcenter"}
        for url in urls.values():
            assert httpx.get(f"{url}/__admin/health").json()["ok"]
        assert httpx.get(f"{urls['sms']}/__admin/faults").json()["app"]["latency_ms"] == 1
        r = httpx.post(f"{urls['gov12315']}/__admin/clock", json={"advance_minutes": 30})
        assert r.status_code == 200 and r.json()["generated"] >= 0
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out and "callcenter" in out

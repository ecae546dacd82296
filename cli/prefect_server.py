"""A temporary Prefect server for one CLI command that never outlives it.

Without `PREFECT_API_URL`, Prefect starts an ephemeral server in a subprocess; when
the command was killed (SIGKILL, a closed terminal) that server kept running. Here
the command starts `prefect server start` itself on a free loopback port, in its own
process group, with Linux's parent-death signal set: the server ends when the
command ends, however it ends. With `PREFECT_API_URL` set, nothing is started.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.errors import ConfigError
from core.logs import get_logger

log = get_logger(__name__)
PR_SET_PDEATHSIG = 1
STARTUP_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux; elsewhere the group kill on exit remains)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def start_server(port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start `prefect server start` on loopback and wait until it answers; (process, API URL)."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    prefect_bin = Path(sys.executable).parent / "prefect"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([str(prefect_bin), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509 - only prctl, async-signal-safe enough
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"the temporary Prefect server exited at start (code {proc.returncode})",
                              hint="run `prefect server start` by hand to see why, or set PREFECT_API_URL")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise ConfigError(f"the temporary Prefect server did not answer within {STARTUP_SECONDS:.0f} s",
                      hint="set PREFECT_API_URL to a running server")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """End the server and everything it started (its process group): SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def temporary_prefect_server() -> Iterator[str | None]:
    """Run the body against a server of its own unless PREFECT_API_URL names one; yields the API URL used."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield PREFECT_API_URL.value()
        return
    proc, url = start_server()
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _flush_run_logs()
    finally:
        stop_server(proc)


def _flush_run_logs() -> None:
    """Send the run logs still queued for the API before the server goes (else they are lost with it)."""
    from prefect.logging.handlers import APILogHandler

    try:
        APILogHandler().flush()
    except Exception as exc:  # noqa: BLE001 - losing log lines must not change the command's outcome
        log.warning("could not flush the run logs to the temporary Prefect server: %s", exc)

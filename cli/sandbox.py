"""`hub sandbox serve`: run the simulated source systems on loopback (see sandbox/README.md)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from pathlib import Path

import typer

from cli.common import console, operator_errors
from core.errors import ConfigError

app = typer.Typer(help="The simulated source systems (sandbox/systems/, one module each).", no_args_is_help=True)


@app.command("serve")
@operator_errors
def serve(
    port: int = typer.Option(8400, help="First port: the systems take P, P+1, … in their registry order."),
    seed: int = typer.Option(1, help="Random seed (same seed, same data)."),
    rate: float = typer.Option(60, help="New complaints per simulated hour."),
    backlog: int = typer.Option(100, help="Complaints that exist at start."),
    faults: str = typer.Option("", help='Faults as JSON, e.g. \'{"app": {"error_rate": 0.1}}\'.'),
    urls_file: Path | None = typer.Option(None, help="Write {source: base URL} here once every system answers."),
    start: str = typer.Option("", help="Simulated start time, ISO 8601 (default: now)."),
    speed: float = typer.Option(0.0, help="Simulated seconds per real second (0: clock moves only via /__admin/clock)."),
    burst_size: int = typer.Option(200, help="Size of a mass-fault burst."),
    malformed_rate: float = typer.Option(0.02, help="Share of malformed records."),
) -> None:
    """Serve every simulated system until Ctrl-C."""
    from sandbox.server import Sandbox  # (not `from sandbox`: a stale editable install may see a namespace)

    try:
        fault_spec = json.loads(faults) if faults else None
        start_at = datetime.fromisoformat(start) if start else None
    except ValueError as exc:
        raise ConfigError(f"bad --faults or --start: {exc}") from exc
    sb = Sandbox(seed=seed, rate=rate, backlog=backlog, faults=fault_spec, start=start_at, burst_size=burst_size,
                 malformed_rate=malformed_rate, speed=speed)
    try:
        urls = sb.start(port=port)
    except OSError as exc:
        raise ConfigError(f"cannot bind ports from {port}: {exc}") from exc
    for src, url in urls.items():
        console.print(f"{src:<11} {url}")
    console.print(f"simulated clock: {sb.now().isoformat()}  (advance: POST <any>/__admin/clock)")
    if urls_file:
        urls_file.parent.mkdir(parents=True, exist_ok=True)
        urls_file.write_text(json.dumps(urls, indent=2) + "\n", encoding="utf-8")
        console.print(f"urls written to {urls_file}")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    finally:
        sb.stop()
        console.print("sandbox stopped")

"""`hub doctor`: is this installation fit to run unattended? One actionable line per problem."""

from __future__ import annotations

from collections.abc import Iterator

import typer

from cli.common import emit_json
from hub.doctor import Finding, run_checks


def check_prefect() -> Iterator[Finding]:
    """Prefect's API answers at PREFECT_API_URL (unset: every flow process would start its own server)."""
    import httpx
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        yield Finding("prefect", "error", "PREFECT_API_URL is unset: deployments and workers need a "
                                          "`prefect server`; export PREFECT_API_URL=http://HOST:4200/api")
        return
    try:
        resp = httpx.get(f"{url.rstrip('/')}/health", timeout=5)
    except httpx.HTTPError as exc:
        yield Finding("prefect", "error", f"Prefect API at {url} unreachable ({type(exc).__name__}); "
                                          "start `prefect server start` or fix PREFECT_API_URL")
        return
    if resp.status_code != 200:
        yield Finding("prefect", "error", f"Prefect API at {url} answered {resp.status_code} on /health")
    else:
        yield Finding("prefect", "ok", f"{url} healthy")


def doctor(
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too (exit 1)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Check the store, secrets, ops destination, Chromium, Prefect's API and holiday data.

    Exit 0 when nothing is wrong (warnings allowed unless --strict), 1 otherwise; each
    problem is one line saying what to do.
    """
    findings = run_checks(extra=(check_prefect,))
    failing = [f for f in findings if f.level == "error" or (strict and f.level == "warn")]
    if as_json:
        emit_json({"ok": not failing, "findings": [{"check": f.check, "level": f.level, "text": f.text}
                                                   for f in findings]})
    else:
        for f in findings:
            typer.echo(f.line())
        problems = sum(f.level != "ok" for f in findings)
        typer.echo(f"{problems} problem(s)" if problems else "all checks passed")
    if failing:
        raise typer.Exit(1)

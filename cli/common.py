"""Helpers shared by CLI modules: JSON output, error reporting, store access."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from connectors.registry import source_keys
from core.errors import HubError

console = Console()
err_console = Console(stderr=True)


def emit_json(doc: Any) -> None:
    """Print one JSON document on stdout (callers pass data that is already masked)."""
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, default=str, indent=2) + "\n")


SOURCE_HELP = "A source key of config/sources.yaml (e.g. gov12315, blackcat, app, sms, callcenter)."


def source_argument(value: str | None) -> str | None:
    """Typer callback: a configured source key, or a clear error listing the configured ones."""
    if value is None:
        return None
    keys = source_keys(enabled_only=False)
    if value not in keys:
        raise typer.BadParameter(f"unknown source {value!r}; one of {', '.join(keys)}")
    return value


def operator_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn HubErrors into a one-line message and exit code 2, not a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HubError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from exc

    return wrapper


LIMIT_HELP = "At most this many rows (the listing says when more exist; --all for every row)."
ALL_HELP = "Every row, no limit."


def fetch_limit(limit: int, everything: bool) -> int | None:
    """The row count to ask the store for: one more than shown, to know whether the listing is cut."""
    return None if everything else limit + 1


def cut(rows: list[Any], limit: int, everything: bool, what: str) -> list[Any]:
    """The rows to show; when more exist, one line on stderr says so (stdout JSON stays one document)."""
    if everything or len(rows) <= limit:
        return rows
    err_console.print(f"[yellow]note:[/] showing the first {limit} {what}; more exist — "
                      f"raise --limit or pass --all", highlight=False)
    return rows[:limit]

"""Helpers shared by the portal connector tests (real Chromium against the sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import Connector
from connectors.config import RetryConfig, SourceConfig, load_sources
from connectors.portal import PortalRuntime
from core.settings import get_settings


def portal_config(sb: Any, source: str, *, selectors: dict[str, str] | None = None,
                  retry: RetryConfig | None = None, **portal: Any) -> SourceConfig:
    """The shipped config/sources.yaml section of a portal, pointed at this sandbox.

    `selectors` are laid over the shipped ones (a markup change is a config change),
    `portal` sets other fields of the `portal:` section, `retry` replaces the retry bounds.
    """
    cfg = load_sources(overrides=sb.urls)[source]
    assert cfg.portal is not None
    update: dict[str, Any] = dict(portal)
    if selectors:
        update["selectors"] = {**cfg.portal.selectors, **selectors}
    return cfg.model_copy(update={"portal": cfg.portal.model_copy(update=update),
                                  **({"retry": retry} if retry is not None else {})})


def runtime_for(browser: Any, home: Path, **kw: Any) -> PortalRuntime:
    """A runtime on the session's browser with its own HUB_HOME (sessions, failures)."""
    return PortalRuntime(get_settings().model_copy(update={"home": home}), browser=browser, **kw)


async def pull_all(conn: Connector, cursor: Any = None, *, stop_after: int | None = None) -> tuple[list, Any, int]:
    """Run a pull to its end (or `stop_after` pages): (records, last cursor, pages)."""
    records: list = []
    n = 0
    last = cursor
    agen = conn.pull(cursor)
    try:
        async for page in agen:
            records.extend(page.records)
            last = page.cursor
            n += 1
            if stop_after is not None and n >= stop_after:
                break
    finally:
        await agen.aclose()  # a stopped run releases its tabs now, not at garbage collection
    return records, last, n


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """sandbox.records(source) → {external_id: payload}."""
    return {r["external_id"]: r["payload"] for r in rows}


def same_text(a: Any, b: Any) -> bool:
    """Compare a scraped value with the sandbox's, ignoring surrounding/trailing-line whitespace."""
    norm = lambda v: "\n".join(line.rstrip() for line in str(v if v is not None else "").strip().splitlines())  # noqa: E731
    return norm(a) == norm(b)

"""One browser per run, one context per source: the portal connectors' shared runtime.

    async with PortalRuntime(settings) as rt:
        conn = Gov12315Connector(cfg, runtime=rt)
        async for page in conn.pull(cursor): ...

The runtime owns Playwright and the Chromium process (unless a browser is
injected, as the tests do with their session browser). Each source gets one
`BrowserContext`, created lazily with the source's saved `storage_state` and
with tracing on, so that a failure can be written out as a trace file.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError
from core.logs import get_logger
from core.settings import Settings, get_settings

from . import state as st

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

log = get_logger(__name__)

#: flags that make Debian's Chromium run headless in containers (see STACK.md)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments for `chromium.launch`: the configured executable when present, else Playwright's own."""
    kw: dict[str, Any] = {"headless": True, "args": list(CHROMIUM_ARGS)}
    if Path(settings.chromium_path).exists():
        kw["executable_path"] = str(settings.chromium_path)
    return kw


@dataclass
class SourceContext:
    """A source's browser context plus what the runtime tracks about it."""

    source: str
    context: BrowserContext
    state_file: Path
    tracing: bool
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: logins performed in this run (tests and reports read it)
    logins: int = 0


class PortalRuntime:
    """Shared Playwright runtime for the portal connectors (async context manager)."""

    def __init__(self, settings: Settings | None = None, *, browser: Browser | None = None,
                 tracing: bool = True, default_timeout_ms: float = 10_000):
        self.settings = settings or get_settings()
        self.home = Path(self.settings.home)
        self._injected = browser
        self._browser: Browser | None = browser
        self._pw: Playwright | None = None
        self._contexts: dict[str, SourceContext] = {}
        self._ctx_lock = asyncio.Lock()
        self.tracing = tracing
        self.default_timeout_ms = default_timeout_ms

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> PortalRuntime:
        """Launch Chromium (once) unless a browser was injected."""
        if self._browser is None:
            from playwright.async_api import async_playwright  # heavy: loaded only when a browser starts

            self._pw = await async_playwright().start()
            try:
                self._browser = await self._pw.chromium.launch(**launch_kwargs(self.settings))
            except Exception as exc:
                await self._pw.stop()
                self._pw = None
                raise ConfigError(f"cannot launch Chromium: {exc}",
                                  hint="install chromium (apt-get install chromium) or set HUB_CHROMIUM_PATH") from exc
        return self

    async def aclose(self) -> None:
        """Close every context (tracing discarded), then the browser we launched."""
        for source in list(self._contexts):
            await self.close_context(source)
        if self._injected is None and self._browser is not None:
            await self._browser.close()
        self._browser = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None

    async def __aenter__(self) -> PortalRuntime:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def browser(self) -> Browser:
        """The launched (or injected) browser; RuntimeError before `start()`."""
        if self._browser is None:
            raise RuntimeError("PortalRuntime not started: use `async with PortalRuntime(...)`")
        return self._browser

    # --- contexts ------------------------------------------------------------------

    def state_file(self, source: str) -> Path:
        """Path of `source`'s saved session (storage_state, mode 0600)."""
        return st.state_path(self.home, source)

    async def context(self, source: str) -> SourceContext:
        """The source's context, created on first use with its saved session and tracing on."""
        async with self._ctx_lock:
            sc = self._contexts.get(source)
            if sc is not None:
                return sc
            if self._browser is None:
                await self.start()  # a connector built without a shared runtime starts its own
            path = self.state_file(source)
            saved = st.load_state(path)
            ctx = await self.browser.new_context(storage_state=saved, locale="zh-CN",
                                                 timezone_id=self.settings.timezone,
                                                 viewport={"width": 1280, "height": 900})
            ctx.set_default_timeout(self.default_timeout_ms)
            if self.tracing:
                # DOM snapshots, no per-action screenshots: cheap enough to keep on for every run.
                await ctx.tracing.start(snapshots=True, screenshots=False, sources=False)
                await ctx.tracing.start_chunk()
            sc = SourceContext(source=source, context=ctx, state_file=path, tracing=self.tracing)
            self._contexts[source] = sc
            return sc

    def logins(self, source: str) -> int:
        """Logins performed in this run for `source` (0 when its saved session was reused)."""
        sc = self._contexts.get(source)
        return sc.logins if sc else 0

    async def new_page(self, source: str) -> Page:
        """A new tab in the source's context."""
        sc = await self.context(source)
        return await sc.context.new_page()

    async def save_session(self, source: str) -> Path:
        """Persist the source's cookies/local storage (0600) so the next run skips the login."""
        sc = await self.context(source)
        st.save_state(sc.state_file, await sc.context.storage_state())
        return sc.state_file

    async def forget_session(self, source: str) -> None:
        """Drop the saved session and the context's cookies (the portal refused them)."""
        sc = await self.context(source)
        await sc.context.clear_cookies()
        st.forget_state(sc.state_file)

    async def rotate_trace(self, source: str) -> None:
        """Start a fresh trace chunk, dropping the previous one (bounds memory on long pulls)."""
        sc = self._contexts.get(source)
        if sc is None or not sc.tracing:
            return
        async with sc.lock:
            await sc.context.tracing.stop_chunk()
            await sc.context.tracing.start_chunk()

    async def capture_failure(self, source: str, page: Page | None, label: str) -> tuple[Path | None, Path | None]:
        """Save a screenshot of `page` and the current trace chunk under `<home>/portal-failures/`.

        Returns (screenshot, trace); either may be None when it could not be written
        (a crashed page), because the error must still be raised with what we have.
        """
        folder = self.home / st.FAILURES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{source}-{time.strftime('%Y%m%dT%H%M%S')}-{int(time.time() * 1000) % 1000:03d}-" \
               f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)[:40]}"
        shot: Path | None = folder / f"{stem}.png"
        trace: Path | None = folder / f"{stem}.trace.zip"
        try:
            if page is None or page.is_closed():
                raise RuntimeError("no page")
            await page.screenshot(path=str(shot), full_page=True)
        except Exception as exc:  # noqa: BLE001 - best effort: the PortalChangedError matters more
            log.warning("could not save portal screenshot: %s", exc)
            shot = None
        sc = self._contexts.get(source)
        if sc is not None and sc.tracing:
            try:
                async with sc.lock:
                    await sc.context.tracing.stop_chunk(path=str(trace))
                    await sc.context.tracing.start_chunk()
            except Exception as exc:  # noqa: BLE001
                log.warning("could not save portal trace: %s", exc)
                trace = None
        else:
            trace = None
        return shot, trace

    async def close_context(self, source: str) -> None:
        """Close one source's context (its trace is discarded: only failures keep one)."""
        sc = self._contexts.pop(source, None)
        if sc is None:
            return
        try:
            if sc.tracing:
                await sc.context.tracing.stop_chunk()
                await sc.context.tracing.stop()
        except Exception:  # noqa: BLE001 - closing must not fail the run
            pass
        await sc.context.close()

"""Reading a page through configured selectors; a missing element becomes PortalChangedError.

Every selector comes from `PortalOptions.selectors` by role name, so when the
portal's markup changes the fix is a config edit. When a *required* element
is missing, the page is screenshotted and the context's trace written under
`<HUB_HOME>/portal-failures/`, and `PortalChangedError(selector=, screenshot=,
trace=)` is raised for the operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from core.errors import PortalChangedError

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

    from .options import PortalOptions
    from .runtime import PortalRuntime


class Scraper:
    """Selector-driven access to one page of one source."""

    def __init__(self, runtime: PortalRuntime, opts: PortalOptions, page: Page):
        self.runtime = runtime
        self.opts = opts
        self.page = page

    def loc(self, name: str, within: Locator | None = None) -> Locator:
        """Locator for the configured selector `name` (relative to `within` when given)."""
        sel = self.opts.selector(name)
        return (within or self.page).locator(sel)

    async def changed(self, name: str, what: str = "") -> PortalChangedError:
        """Capture screenshot + trace and build the error for a missing `name`."""
        sel = self.opts.selectors.get(name, "?")
        shot, trace = await self.runtime.capture_failure(self.opts.source, self.page, name)
        return PortalChangedError(
            f"{what or 'element'} {name!r} not found on {self.page.url}", source=self.opts.source,
            selector=f"{name}={sel}", screenshot=shot, trace=trace)

    async def require(self, name: str, within: Locator | None = None, *, timeout_ms: float | None = None) -> Locator:
        """First match of `name`, waiting up to element_timeout_ms; PortalChangedError when absent."""
        loc = self.loc(name, within)
        first = loc.first
        if await loc.count():
            return first  # server-rendered pages are complete at domcontentloaded: no waiting
        try:
            await first.wait_for(state="attached", timeout=timeout_ms or self.opts.portal.element_timeout_ms)
        except Exception as exc:  # noqa: BLE001 - Playwright's TimeoutError; anything else is the same story
            if _page_closed(exc):
                raise
            raise await self.changed(name) from None
        return first

    async def exists(self, name: str, within: Locator | None = None) -> bool:
        """Whether `name` matches now (no waiting): for optional parts and state checks."""
        return await self.loc(name, within).count() > 0

    async def text(self, name: str, within: Locator | None = None, *, required: bool = True) -> str | None:
        """Trimmed text of the first match (None for an absent optional element)."""
        if required:
            el = await self.require(name, within)
        else:
            loc = self.loc(name, within)
            if await loc.count() == 0:
                return None
            el = loc.first
        return _clean(await el.inner_text())

    async def texts(self, name: str, within: Locator | None = None) -> list[str]:
        """Trimmed texts of all matches (empty list when none)."""
        return [t for t in (_clean(x) for x in await self.loc(name, within).all_inner_texts()) if t]

    async def links(self, name: str, within: Locator | None = None) -> list[dict[str, Any]]:
        """All matching links as `{"name", "url"}` with absolute URLs (attachments)."""
        loc = self.loc(name, within)
        items = await loc.evaluate_all("els => els.map(e => [e.innerText || e.textContent || '', "
                                       "e.getAttribute('href') || ''])")
        base = self.page.url
        return [{"name": _clean(n), "url": urljoin(base, h) if h else ""} for n, h in items]


def _clean(s: str | None) -> str:
    return " ".join((s or "").split()) if s and "\n" not in s.strip() else (s or "").strip()


def _page_closed(exc: Exception) -> bool:
    return "closed" in str(exc).lower() and "Target" in str(exc)

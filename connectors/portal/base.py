"""What both portal connectors share: navigation with bounded retries, login/session reuse, pull loop.

A subclass supplies its portal's specifics: `login_form()` (fill and submit the
login, including any SMS step), `is_login_page()`, `list_rows()` (one list
page → rows + "more?"), `scrape_detail()` and `push()`. This class turns them
into the connector contract: `check()`, `pull(cursor)` yielding `Page`s with
the cursor after each, session persistence and re-login on expiry.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from connectors.base import CheckResult, Connector, Page
from core.errors import AuthError, HubError, TransientError
from core.logs import get_logger
from core.schema import RawRecord

from .codes import CodeProvider, CodeRequest, make_code_provider
from .options import PortalOptions, build_options
from .pool import PagePool
from .scrape import Scraper
from .watermark import PortalCursor, Row, RunPlan

if TYPE_CHECKING:
    from playwright.async_api import Page as PwPage
    from playwright.async_api import Response

    from .runtime import PortalRuntime

log = get_logger(__name__)

RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class SessionExpired(Exception):
    """Internal: the portal sent us to its login page; log in and try again."""


class PortalConnector(Connector):
    """Base of the Playwright connectors (see module doc)."""

    DEFAULT_SELECTORS: ClassVar[Mapping[str, str]] = {}
    DEFAULT_PATHS: ClassVar[Mapping[str, str]] = {}
    #: how far behind the watermark status changes are still picked up
    REVISIT: ClassVar[timedelta] = timedelta(days=3)

    def __init__(self, cfg: Any = None, *, runtime: PortalRuntime | None = None,
                 code_provider: CodeProvider | str | None = None, base_url: str | None = None,
                 ledger: Any = None, close_runtime: bool | None = None, **overrides: Any):
        """`cfg`: the source's entry of config/sources.yaml (dict or model) or PortalOptions.

        `runtime`: the run's PortalRuntime (one browser, a context per source); None =
        a runtime of the connector's own, started on first use and closed by `aclose()`.
        `ledger`: accepted for the registry's uniform call; portals need none (the
        portal page itself says whether an update was applied).
        `code_provider`: overrides the configured `code_provider` spec.
        `base_url`: overrides the configured URL (HUB_SOURCE_URLS does the same via the registry).
        `close_runtime`: close the runtime in `aclose()` (default: only a runtime of its own).
        `overrides`: PortalOptions fields (e.g. parallel_pages=1) for benches and tests.
        """
        opts = build_options(self.source.value, cfg or {}, default_selectors=self.DEFAULT_SELECTORS,
                             default_paths=self.DEFAULT_PATHS, base_url=base_url)
        if overrides:
            opts = opts.model_copy(update=overrides)
        self.opts: PortalOptions = opts
        self._owns_runtime = runtime is None if close_runtime is None else close_runtime
        if runtime is None:
            from .runtime import PortalRuntime  # noqa: PLC0415

            runtime = PortalRuntime()
        self.runtime = runtime
        self._code_requested: datetime | None = None
        self.codes: CodeProvider = make_code_provider(code_provider or opts.code_provider)
        self._login_lock = asyncio.Lock()
        self._login_gen = 0
        self._page: PwPage | None = None

    # --- pages and navigation --------------------------------------------------------

    @property
    def src(self) -> str:
        return self.source.value

    async def main_page(self) -> PwPage:
        """The connector's own tab (list pages, pushes); detail pages use the pool's tabs."""
        if self._page is None or self._page.is_closed():
            self._page = await self.runtime.new_page(self.src)
        return self._page

    def scraper(self, page: PwPage) -> Scraper:
        return Scraper(self.runtime, self.opts, page)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.opts.max_retry_seconds)
        base = self.opts.backoff_base_seconds * (2 ** attempt)
        return random.uniform(base / 2, base)  # jitter: parallel tabs must not retry in lockstep

    async def retrying(self, what: str, op: Any) -> Any:
        """Run `op()` (an async callable returning a Response or None) with bounded retries.

        Retried: 408/429/5xx answers (honouring Retry-After) and navigation
        timeouts/network errors. Not retried: everything else. The attempts and
        their total time are bounded by max_attempts / max_retry_seconds.
        """
        from playwright.async_api import Error as PwError  # noqa: PLC0415

        started = time.monotonic()
        last = ""
        for attempt in range(self.opts.max_attempts):
            retry_after: float | None = None
            try:
                resp: Response | None = await op()
            except PwError as exc:
                if "closed" in str(exc).lower() and "Target" in str(exc):
                    raise
                last = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            else:
                status = resp.status if resp is not None else 200
                if status not in RETRY_STATUS:
                    return resp
                last = f"HTTP {status}"
                ra = (await resp.all_headers()).get("retry-after") if resp is not None else None
                try:
                    retry_after = float(ra) if ra else None
                except ValueError:
                    retry_after = None
            wait = self._backoff(attempt, retry_after)
            if attempt + 1 >= self.opts.max_attempts or time.monotonic() - started + wait > self.opts.max_retry_seconds:
                break
            log.info("%s: %s, retry %d in %.2fs", what, last, attempt + 1, wait)
            await asyncio.sleep(wait)
        raise TransientError(f"{what} failed after {attempt + 1} attempts: {last}", source=self.src)

    async def goto(self, page: PwPage, url: str) -> Response | None:
        """Navigate with retries; raise SessionExpired when the portal answers with its login page."""
        resp = await self.retrying(
            f"GET {url}", lambda: page.goto(url, wait_until="domcontentloaded",
                                            timeout=self.opts.navigation_timeout_ms))
        if await self.is_login_page(page):
            raise SessionExpired(url)
        return resp

    async def open(self, page: PwPage, url: str) -> Response | None:
        """Navigate to an authenticated page, logging in (once, shared by all tabs) when needed."""
        for _ in range(3):
            gen = self._login_gen
            try:
                return await self.goto(page, url)
            except SessionExpired:
                await self.relogin(page, seen_gen=gen)
        raise AuthError("the portal keeps sending us back to its login page after logging in", source=self.src)

    async def relogin(self, page: PwPage, *, seen_gen: int) -> None:
        """Log in unless another tab already did since `seen_gen`; then persist the session."""
        async with self._login_lock:
            if self._login_gen != seen_gen:
                return  # a parallel tab logged in while we waited: just retry the page
            sc = await self.runtime.context(self.src)
            await self.login(page)
            sc.logins += 1
            self._login_gen += 1
            await self.runtime.save_session(self.src)
            log.info("logged in to %s (session saved)", self.src)

    def login_stage(self, page: PwPage) -> str | None:
        """"login" / "sms" when `page` shows that login form, None once logged in."""
        from urllib.parse import urlparse  # noqa: PLC0415

        here = urlparse(page.url).path.rstrip("/")
        for stage in ("login", "sms"):
            if stage in self.opts.paths and here == urlparse(self.opts.url(stage)).path.rstrip("/"):
                return stage
        return None

    async def login(self, page: PwPage) -> None:
        """Walk the login forms until the portal lets us in; bounded, and clear about refusals.

        The page decides the next step (login form, SMS form, or in). A transient
        answer to a form (5xx/429/timeout) is followed by re-reading the page we
        were sent to (a GET, safe to repeat) and carrying on from whatever it shows,
        so a flaky redirect does not restart the whole login. A refusal shown on the
        same form (wrong password) is an AuthError at once; a stale CSRF token or a
        crossed SMS code gets one more try.
        """
        if not self.opts.username or not self.opts.password.get_secret_value():
            raise AuthError("no username/password configured", source=self.src)
        await self.retrying("GET login", lambda: page.goto(self.opts.url("login"), wait_until="domcontentloaded",
                                                           timeout=self.opts.navigation_timeout_ms))
        started = time.monotonic()
        second_chance = {"login": True, "sms": True}
        steps = 0
        while (stage := self.login_stage(page)) is not None:
            steps += 1
            if steps > 4 * self.opts.max_attempts or time.monotonic() - started > self.opts.max_retry_seconds:
                raise TransientError(f"login did not get through after {steps - 1} steps", source=self.src)
            button = await self.fill_stage(page, stage)
            retry_after: float | None = None
            try:
                resp = await self.submit(page, button, f"POST {stage}")
                status = resp.status if resp is not None else 200
                if status in RETRY_STATUS and resp is not None:
                    ra = (await resp.all_headers()).get("retry-after")
                    retry_after = float(ra) if ra and ra.replace(".", "", 1).isdigit() else None
            except TransientError:
                status = 0
            if status == 0 or status in RETRY_STATUS:
                await asyncio.sleep(self._backoff(min(steps, 4), retry_after))
                url = page.url if page.url.startswith("http") else self.opts.url("login")
                await self.retrying("GET after login step", lambda u=url: page.goto(
                    u, wait_until="domcontentloaded", timeout=self.opts.navigation_timeout_ms))
                continue
            if self.login_stage(page) == stage:  # the same form again: refused
                msg = await self.scraper(page).text("login.error", required=False) or f"HTTP {status}"
                retryable = (stage == "login" and status == 403) or stage == "sms"  # CSRF / crossed code
                if retryable and second_chance[stage]:
                    second_chance[stage] = False
                    continue
                raise AuthError(f"{'login' if stage == 'login' else 'SMS verification'} refused: {msg}",
                                source=self.src)

    async def fill_stage(self, page: PwPage, stage: str) -> Any:
        """Fill the `stage` form (login: username/password; sms: the code) and return its submit button."""
        s = self.scraper(page)
        if stage == "login":
            await (await s.require("login.username")).fill(self.opts.username)
            await (await s.require("login.password")).fill(self.opts.password.get_secret_value())
            self._code_requested = datetime.now(UTC)
            return await s.require("login.submit")
        code = await self.codes.get_code(CodeRequest(
            source=self.src, username=self.opts.username, base_url=self.opts.base_url,
            requested_at=self._code_requested or datetime.now(UTC)))
        await (await s.require("sms.code")).fill(code)
        return await s.require("sms.submit")

    async def submit(self, page: PwPage, button: Any, what: str) -> Response | None:
        """Click a submit button; the navigation's final response. Never retried blindly (a POST)."""
        try:
            async with page.expect_navigation(wait_until="domcontentloaded",
                                              timeout=self.opts.navigation_timeout_ms) as nav:
                await button.click()
            return await nav.value
        except Exception as exc:  # noqa: BLE001 - Playwright timeout: the outcome is unknown
            if "Timeout" in type(exc).__name__:
                raise TransientError(f"{what}: no answer in time", source=self.src) from None
            raise

    @property
    def logins(self) -> int:
        """Logins performed by this runtime for this source (0 when the saved session was reused)."""
        sc = self.runtime._contexts.get(self.src)  # noqa: SLF001 - same package
        return sc.logins if sc else 0

    # --- subclass hooks ---------------------------------------------------------------

    async def is_login_page(self, page: PwPage) -> bool:
        """Whether `page` is a login form (session missing or expired; a half-done SMS step counts)."""
        return self.login_stage(page) is not None

    async def list_rows(self, page: PwPage, plan: RunPlan, state: dict[str, Any]) -> tuple[list[Row], bool]:
        """Next batch of list rows and whether more may follow. `state` persists across calls."""
        raise NotImplementedError  # pragma: no cover

    async def scrape_detail(self, page: PwPage, row: Row) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def external_id(self, row: Row, payload: dict[str, Any]) -> str:
        """The record's id: the one in the list/URL (a malformed page may show an empty one)."""
        return row.id

    # --- the contract -----------------------------------------------------------------

    async def check(self) -> CheckResult:
        """Reach the list page, logging in if the saved session is gone."""
        try:
            page = await self.main_page()
            await self.open(page, self.opts.url("list_home"))
        except HubError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"{self.src}: list page reachable (logins this run: {self.logins})")

    async def pull(self, cursor: Any) -> AsyncIterator[Page]:
        """Yield pages of new/changed records since `cursor` (see connectors.portal.watermark)."""
        plan = RunPlan(PortalCursor.from_json(cursor), overlap=timedelta(minutes=self.opts.overlap_minutes),
                       revisit=self.REVISIT)
        page = await self.main_page()
        pool: PagePool[Row, dict[str, Any]] = PagePool(self.runtime, self.src, self.opts.parallel_pages)
        state: dict[str, Any] = {}
        try:
            n = 0
            while True:
                n += 1
                rows, more = await self.list_rows(page, plan, state)
                wanted = [r for r in rows if plan.wants(r)]
                payloads = await pool.map(wanted, self._fetch_detail)
                records = [RawRecord(source=self.source, external_id=self.external_id(r, p), payload=p)
                           for r, p in zip(wanted, payloads, strict=True)]
                plan.done(wanted)
                last = not more or n >= self.opts.max_list_pages
                cur = plan.final_cursor() if last else plan.page_cursor()
                yield Page(records=records, cursor=cur, stats={"list_page": n, **plan.stats})
                await self.runtime.rotate_trace(self.src)
                if last:
                    return
        finally:
            await pool.aclose()

    async def _fetch_detail(self, page: PwPage, row: Row) -> dict[str, Any]:
        await self.open(page, row.url)
        return await self.scrape_detail(page, row)

    async def aclose(self) -> None:
        """Close this connector's tab; the context and browser belong to the runtime."""
        if self._page is not None and not self._page.is_closed():
            await self._page.close()
        self._page = None
        if self._owns_runtime:
            await self.runtime.aclose()

"""What both portal connectors share: navigation under the retry layer, login/session reuse, pull loop.

A subclass declares its key, label, `DEFAULT_SELECTORS` / `DEFAULT_PATHS` and
supplies its portal's specifics: `list_rows()` (one list page → rows + "more?"),
`scrape_detail()` and `push()`. This class turns them into the connector
contract: `check()`, `pull(cursor)` yielding `Page`s with the cursor after each,
session persistence and re-login on expiry. Navigation, form posts and pushes go
through `connectors.retry` (the rule table and one tenacity policy, the source's
`retry:` section), so no portal code loops on retries itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from connectors.base import CheckResult, Connector, CursorModel, Page, PushLedger, SourceKind
from connectors.config import SourceConfig
from connectors.retry import converge, parse_retry_after, retrying, rule_for_status
from core.errors import AuthError, HubError, TransientError
from core.logs import get_logger
from core.schema import PushReceipt, RawRecord, to_local

from .codes import CodeProvider, CodeRequest, make_code_provider
from .options import PortalOptions
from .pool import PagePool
from .runtime import PortalRuntime
from .scrape import Scraper
from .watermark import FMT, PortalCursor, Row, RunPlan

if TYPE_CHECKING:
    from playwright.async_api import Locator, Response
    from playwright.async_api import Page as PwPage

log = get_logger(__name__)


class SessionExpired(AuthError):
    """Internal: the portal sent us to its login page; log in and try again."""


class PortalConnector(Connector):
    """Base of the Playwright connectors (see module doc)."""

    kind: ClassVar[SourceKind] = "portal"
    Cursor: ClassVar[type[CursorModel]] = PortalCursor
    DEFAULT_SELECTORS: ClassVar[Mapping[str, str]] = {}
    DEFAULT_PATHS: ClassVar[Mapping[str, str]] = {}
    #: how far behind the watermark status changes are still picked up
    REVISIT: ClassVar[timedelta] = timedelta(days=3)
    #: re-read every open row every that many complete runs (changes the list does not show); None: never
    REFRESH_EVERY: ClassVar[int | None] = None
    #: list versions (statuses) of rows that cannot change any more: never re-read for `REFRESH_EVERY`
    FINAL_VERSIONS: ClassVar[frozenset[str]] = frozenset()
    #: form posts one push may need (e.g. a reply, then 申请完成)
    PUSH_STEPS: ClassVar[int] = 1

    def __init__(self, config: SourceConfig, *, ledger: PushLedger | None = None,
                 runtime: PortalRuntime | None = None, code_provider: CodeProvider | str | None = None,
                 close_runtime: bool | None = None):
        """`config`: the source's section of config/sources.yaml (kind portal).

        `runtime`: the run's PortalRuntime (one browser, a context per source); None =
        a runtime of the connector's own, started on first use and closed by `aclose()`.
        `ledger`: accepted for the registry's uniform call; portals need none (the
        portal page itself says whether an update was applied).
        `code_provider`: overrides the configured `portal.code_provider` spec.
        `close_runtime`: close the runtime in `aclose()` (default: only a runtime of its own).
        """
        self.cfg = config
        self.options = self.load_options(config.source, config.options)
        self.opts = PortalOptions.from_config(config, default_selectors=self.DEFAULT_SELECTORS,
                                              default_paths=self.DEFAULT_PATHS)
        self._owns_runtime = runtime is None if close_runtime is None else close_runtime
        self.runtime = runtime if runtime is not None else PortalRuntime()
        self._code_requested: datetime | None = None
        self.codes: CodeProvider = make_code_provider(code_provider or self.opts.portal.code_provider)
        self._login_lock = asyncio.Lock()
        self._login_gen = 0
        self._page: PwPage | None = None

    @classmethod
    def backfill_cursor(cls, since: datetime) -> CursorModel:
        """A watermark at `since`: the list walk goes back from it (landing skips what is stored)."""
        return PortalCursor(watermark=to_local(since).strftime(FMT), seen={}, complete=True)

    # --- pages and navigation --------------------------------------------------------

    @property
    def src(self) -> str:
        """The source key (for messages and runtime contexts)."""
        return self.key

    async def main_page(self) -> PwPage:
        """The connector's own tab (list pages, pushes); detail pages use the pool's tabs."""
        if self._page is None or self._page.is_closed():
            self._page = await self.runtime.new_page(self.src)
        return self._page

    def scraper(self, page: PwPage) -> Scraper:
        """Selector-driven access to `page`."""
        return Scraper(self.runtime, self.opts, page)

    async def navigate(self, page: PwPage, url: str, what: str | None = None) -> Response | None:
        """`page.goto(url)` under the retry policy: retryable answers (the rule table) and timeouts retried."""
        from playwright.async_api import Error as PwError  # heavy: loaded only when a portal navigates

        async def attempt() -> Response | None:
            """One `page.goto`; a Playwright failure or a retryable answer becomes a TransientError."""
            try:
                resp = await page.goto(url, wait_until="domcontentloaded",
                                       timeout=self.opts.portal.navigation_timeout_ms)
            except PwError as exc:
                if _page_closed(exc):
                    raise  # the run is being torn down: not a source fault
                raise TransientError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}", source=self.src,
                                     outcome_unknown=True) from None
            await self.raise_if_retryable(resp, what or f"GET {url}")
            return resp

        return await retrying(attempt, policy=self.opts.retry, what=what or f"GET {url}", source=self.src)

    async def raise_if_retryable(self, resp: Response | None, what: str) -> None:
        """A TransientError (with the source's Retry-After) when the rule table says the answer is retryable."""
        status = resp.status if resp is not None else 200
        rule = rule_for_status(status)
        if resp is not None and rule is not None and rule.error.retryable:
            headers = await resp.all_headers()
            raise TransientError(f"{what}: HTTP {status} ({rule.why})", source=self.src, status_code=status,
                                 retry_after=parse_retry_after(headers.get("retry-after")),
                                 outcome_unknown=rule.outcome_unknown)

    async def goto(self, page: PwPage, url: str) -> Response | None:
        """Navigate; raise SessionExpired when the portal answers with its login page."""
        resp = await self.navigate(page, url)
        if await self.is_login_page(page):
            raise SessionExpired(url, source=self.src)
        return resp

    async def open(self, page: PwPage, url: str) -> Response | None:
        """Navigate to an authenticated page, logging in (once, shared by all tabs) when needed."""
        for _ in range(3):  # bounded re-login (not a retry: each pass logs in afresh)
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
        here = urlparse(page.url).path.rstrip("/")
        for stage in ("login", "sms"):
            if stage in self.opts.paths and here == urlparse(self.opts.url(stage)).path.rstrip("/"):
                return stage
        return None

    async def login(self, page: PwPage) -> None:
        """Walk the login forms until the portal lets us in; bounded, and clear about refusals.

        The page decides the next step (login form, SMS form, or in). A transient
        answer to a form (5xx/429/timeout) is followed, after the policy's backoff, by
        re-reading the page we were sent to (a GET, safe to repeat) and carrying on from
        whatever it shows, so a flaky redirect does not restart the whole login. A
        refusal shown on the same form (wrong password) is an AuthError at once; a stale
        CSRF token or a crossed SMS code gets one more try.
        """
        if not self.opts.username or not self.opts.password.get_secret_value():
            raise AuthError("no username/password configured", source=self.src)
        await self.navigate(page, self.opts.url("login"), "GET login")
        second_chance = {"login": True, "sms": True}
        reread = False

        async def step() -> bool | None:
            """Fill and submit the login form the page shows; True once in, None to look again."""
            nonlocal reread
            if reread:  # the last form post failed: see where it left us
                reread = False
                url = page.url if page.url.startswith("http") else self.opts.url("login")
                await self.navigate(page, url, "GET after login step")
            stage = self.login_stage(page)
            if stage is None:
                return True
            button = await self.fill_stage(page, stage)
            reread = True
            resp = await self.submit(page, button, f"POST {stage}")
            await self.raise_if_retryable(resp, f"POST {stage}")
            reread = False
            if self.login_stage(page) == stage:  # the same form again: refused
                status = resp.status if resp is not None else 200
                msg = await self.scraper(page).text("login.error", required=False) or f"HTTP {status}"
                retryable = (stage == "login" and status == 403) or stage == "sms"  # CSRF / crossed code
                if not (retryable and second_chance[stage]):
                    raise AuthError(f"{'login' if stage == 'login' else 'SMS verification'} refused: {msg}",
                                    source=self.src)
                second_chance[stage] = False
            return None  # the next form (or the same one once more): look again

        # a login takes a few forms (password, SMS code) and may refill one once: steps beyond the retries
        await converge(step, policy=self.opts.retry, what="login", source=self.src, max_steps=2 * self.opts.retry.attempts)

    async def fill_stage(self, page: PwPage, stage: str) -> Locator:
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

    async def submit(self, page: PwPage, button: Locator, what: str) -> Response | None:
        """Click a submit button; the navigation's final response. Never retried blindly (a POST)."""
        try:
            async with page.expect_navigation(wait_until="domcontentloaded",
                                              timeout=self.opts.portal.navigation_timeout_ms) as nav:
                await button.click()
            return await nav.value
        except Exception as exc:  # noqa: BLE001 - Playwright timeout: the outcome is unknown
            if "Timeout" in type(exc).__name__:
                raise TransientError(f"{what}: no answer in time", source=self.src, outcome_unknown=True) from None
            raise

    async def verified_push(self, step: Callable[[], Awaitable[PushReceipt | None]], what: str) -> PushReceipt:
        """Run a read-the-page-then-post `step` until it confirms the update (`connectors.retry.converge`)."""
        return await converge(step, policy=self.opts.retry, what=what, source=self.src, max_steps=self.PUSH_STEPS)

    def receipt(self, update_key: str, external_id: str, *, already_applied: bool = False,
                **detail: Any) -> PushReceipt:
        """The receipt of a push (the portal's record id is the remote reference)."""
        return PushReceipt(source=self.key, idempotency_key=update_key, remote_ref=external_id,
                           already_applied=already_applied, detail=detail)

    @property
    def logins(self) -> int:
        """Logins performed by this runtime for this source (0 when the saved session was reused)."""
        return self.runtime.logins(self.src)

    # --- subclass hooks ---------------------------------------------------------------

    async def is_login_page(self, page: PwPage) -> bool:
        """Whether `page` is a login form (session missing or expired; a half-done SMS step counts)."""
        return self.login_stage(page) is not None

    async def list_rows(self, page: PwPage, plan: RunPlan, state: dict[str, Any]) -> tuple[list[Row], bool]:
        """Next batch of list rows and whether more may follow. `state` persists across calls."""
        raise NotImplementedError  # pragma: no cover

    async def scrape_detail(self, page: PwPage, row: Row) -> dict[str, Any]:  # pragma: no cover
        """One record's detail page → its payload."""
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

    async def pull(self, cursor: CursorModel | dict[str, Any] | None) -> AsyncIterator[Page]:
        """Yield pages of new/changed records since `cursor` (see connectors.portal.watermark)."""
        start = self.read_cursor(cursor)
        plan = RunPlan(start if isinstance(start, PortalCursor) else PortalCursor.model_validate(start.to_json()),
                       overlap=self.opts.overlap, revisit=self.REVISIT, refresh_every=self.REFRESH_EVERY,
                       final=self.FINAL_VERSIONS)
        page = await self.main_page()
        pool: PagePool[Row, dict[str, Any]] = PagePool(self.runtime, self.src, self.opts.portal.parallel_pages)
        state: dict[str, Any] = {}
        try:
            n = 0
            while True:
                n += 1
                rows, more = await self.list_rows(page, plan, state)
                wanted = [r for r in rows if plan.wants(r)]
                payloads = await pool.map(wanted, self._fetch_detail)
                records = [RawRecord(source=self.key, external_id=self.external_id(r, p), payload=p)
                           for r, p in zip(wanted, payloads, strict=True)]
                plan.done(wanted)
                last = not more or n >= self.opts.portal.max_list_pages
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


def _page_closed(exc: Exception) -> bool:
    return "closed" in str(exc).lower() and "Target" in str(exc)

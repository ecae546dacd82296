"""`HttpConnector`: what every API connector shares, so a new API source writes only its own system.

One constructor (config → options → auth hook → `HttpClient`), `check()` (one cheap
read), the typed run cursor of incremental pulls (`RunCursor`), the backfill cursor,
and `verified_push` (look, write, look again, under the retry layer's policy) so
that no connector hand-writes a retry loop.

The incremental rule (`connectors.incremental`): a run reads from a lower bound
fixed when the run starts (the stored high-water mark minus an overlap window),
dedupes within the run by (id, version), and only a finished run moves the
high-water mark (to the newest version it saw).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from connectors.base import CheckResult, Connector, ConnectorOptions, CursorModel, PushLedger, SourceKind
from connectors.config import SourceConfig, build_client
from connectors.http import HttpClient, RequestAuth
from connectors.retry import RetryPolicy, converge
from core.errors import HubError
from core.schema import PushReceipt, to_local


class ApiOptions(ConnectorOptions):
    """The `options:` every API source takes; a connector's own `Options` subclass adds its knobs."""

    #: how many times a push looks-then-writes before giving up on an unknown outcome
    push_attempts: int = Field(default=3, ge=1, le=10)


class RunState(BaseModel):
    """Where an unfinished run is: its lower bound, its position at the source, the newest version seen."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    since: str | None = None
    #: the source's own position inside the run (an opaque cursor, or a page number)
    position: str | int | None = Field(default=None, validation_alias=AliasChoices("position", "cursor", "page"))
    max_seen: str | None = None


class RunCursor(CursorModel):
    """The cursor of an incremental API pull: the high-water mark, and the run in progress (if any)."""

    hwm: str | None = None
    #: None once a run has finished: the next run starts from `hwm` minus the overlap
    run: RunState | None = None


class HttpConnector(Connector):
    """Base of the API connectors: subclasses declare key, label, paths and their options."""

    kind: ClassVar[SourceKind] = "api"
    Cursor: ClassVar[type[CursorModel]] = RunCursor
    Options: ClassVar[type[ConnectorOptions]] = ApiOptions
    options: ApiOptions
    #: the source's own upper bound on `page_size`
    max_page_size: ClassVar[int] = 1000
    #: a cheap read for `check()`
    check_path: ClassVar[str] = ""
    check_params: ClassVar[dict[str, str | int | None]] = {"limit": 1}

    def __init__(self, config: SourceConfig, *, ledger: PushLedger | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.cfg = config
        options = self.load_options(config.source, config.options)
        if not isinstance(options, ApiOptions):
            raise TypeError(f"{type(self).__name__}.Options must subclass ApiOptions")
        self.options = options
        self.ledger = ledger
        self.auth = self.make_auth(config, transport)
        self.http: HttpClient = build_client(config, auth=self.auth, transport=transport)
        self.page_size = min(config.page_size, self.max_page_size)
        retry = config.retry
        self.push_policy = RetryPolicy(attempts=self.options.push_attempts, total_seconds=retry.total_seconds,
                                       backoff_initial=retry.backoff_initial, backoff_max=retry.backoff_max,
                                       retry_after_max=retry.retry_after_max)

    def make_auth(self, config: SourceConfig, transport: httpx.AsyncBaseTransport | None) -> RequestAuth | None:
        """The source's authentication hook (token, signature); None for an open API."""
        return None

    async def aclose(self) -> None:
        """Close the HTTP client (and the auth hook's own client)."""
        await self.http.aclose()

    async def check(self) -> CheckResult:
        """One cheap read with the configured credentials."""
        try:
            doc = await self.http.get_json(self.check_path, params=self.check_params)
        except HubError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, self.describe_check(doc))

    def describe_check(self, doc: Any) -> str:
        """What `check()` reports about a successful answer."""
        return f"{self.key}: reachable"

    @classmethod
    def backfill_cursor(cls, since: datetime) -> CursorModel:
        """A run that starts at `since` (the source's own time format), high-water mark untouched."""
        return RunCursor(hwm=None, run=RunState(since=cls.format_time(since)))

    @classmethod
    def format_time(cls, at: datetime) -> str:
        """A time the way the source's `updated since` filter takes it (ISO-8601, Asia/Shanghai, unless overridden)."""
        return to_local(at).isoformat()

    def run_cursor(self, cursor: CursorModel | dict[str, Any] | None) -> RunCursor:
        """The stored cursor as a `RunCursor`."""
        typed = self.read_cursor(cursor)
        return typed if isinstance(typed, RunCursor) else RunCursor.model_validate(typed.to_json())

    def start_run(self, cursor: CursorModel | dict[str, Any] | None, *, parse: Callable[[str | None], datetime | None],
                  fmt: Callable[[datetime], str], first_position: str | int | None = None
                  ) -> tuple[str | None, RunState]:
        """The high-water mark and the run to go on with: the stored unfinished one, or a new one.

        A new run reads from the high-water mark minus the overlap window (`overlap_minutes`),
        inclusive: records sharing the mark's timestamp or arriving late inside the window are
        read again, and landing skips the versions it already holds.
        """
        state = self.run_cursor(cursor)
        if state.run is not None:
            return state.hwm, state.run
        mark = parse(state.hwm)
        since = fmt(mark - timedelta(minutes=self.cfg.overlap_minutes)) if mark else None
        return state.hwm, RunState(since=since, position=first_position, max_seen=state.hwm)

    async def verified_push(self, step: Callable[[], Awaitable[PushReceipt | None]], what: str) -> PushReceipt:
        """Run a look-then-write `step` until it confirms the update (see `connectors.retry.converge`)."""
        return await converge(step, policy=self.push_policy, what=what, source=self.key)

    def receipt(self, idempotency_key: str, remote_ref: str | None, *, already_applied: bool,
                **detail: Any) -> PushReceipt:
        """The receipt of a push."""
        return PushReceipt(source=self.key, idempotency_key=idempotency_key, remote_ref=remote_ref,
                           already_applied=already_applied, detail=detail)

"""The one connector shape every source implements, and what a connector declares about itself.

Connectors know their system, not the hub: they never import Prefect or the
store. They yield pages of raw records (each with the cursor *after* it, so the
caller lands page and cursor in one transaction) and accept `StatusUpdate`s.

A source is one declaration: its connector class says

- `key`    — the source key (`app`, `gov12315`, …) used everywhere else;
- `kind`   — `api` (httpx, `connectors.api.HttpConnector`) or `portal` (Playwright);
- `label`  — its name for people (console, reports);
- `Cursor` — the pydantic model of its cursor (stored as JSON by the pipeline);
- `backfill_cursor(since)` — the cursor that makes `pull` re-read from a time.

`connectors.registry` derives the list of sources, the CLI choices, the labels
and the flow parameters from these declarations and `config/sources.yaml`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors.config import SourceConfig
from core.errors import ConfigError
from core.schema import PushReceipt, RawRecord, StatusUpdate

SourceKind = Literal["api", "portal"]


class ConnectorOptions(BaseModel):
    """The `options:` of a source in config/sources.yaml. Connectors subclass it; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class CursorModel(BaseModel):
    """Base of every connector's cursor: plain JSON fields, unknown keys kept (older cursors still load)."""

    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        """The JSON the pipeline stores in `sync_state.cursor`."""
        return self.model_dump(mode="json")


@dataclass
class Page:
    """One page of raw records and the cursor that resumes right after it."""

    records: list[RawRecord]
    cursor: CursorModel
    #: extra facts for run reports (e.g. pages scanned, records skipped as unchanged)
    stats: dict[str, int | float] = field(default_factory=dict)


@dataclass
class CheckResult:
    """Whether a source is reachable with the configured credentials, and what was seen."""

    ok: bool
    detail: str = ""


class PushLedger(Protocol):
    """Memory of pushes for sources that are not idempotent (SMS gateways).

    The flow passes a store-backed ledger; tests may pass an in-memory one.
    """

    def get(self, key: str) -> dict[str, Any] | None:
        """What the ledger knows about this idempotency key (None: nothing)."""

    def mark(self, key: str, state: str, remote_ref: str | None = None) -> None:
        """Record the push of this key as `sending` or `sent` (with the source's reference)."""


@runtime_checkable
class TextSender(Protocol):
    """A connector that sends a templated text message by itself (an SMS gateway)."""

    async def send(self, mobile: str, template_code: str, params: dict[str, Any], out_id: str) -> PushReceipt:
        """Send one message at most once per `out_id`."""


@runtime_checkable
class DeliveryReporter(Protocol):
    """A connector whose gateway reports, per message sent, whether it reached the phone (SMS)."""

    def delivery_reports(self, cursor: str | None = None) -> AsyncIterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of delivery reports after `cursor`, each with the cursor after it."""


class Connector:
    """Base class: subclasses declare the class variables below and implement the three operations."""

    key: ClassVar[str]
    kind: ClassVar[SourceKind]
    label: ClassVar[str]
    Cursor: ClassVar[type[CursorModel]]
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    #: the validated `options:` (subclasses narrow the type to their `Options`)
    options: ConnectorOptions

    def __init__(self, config: SourceConfig, *, ledger: PushLedger | None = None):
        """A connector of the source `config` describes; `ledger` for sources whose pushes are not idempotent."""
        self.cfg = config
        self.ledger = ledger
        self.options = self.load_options(config.source, config.options)

    @classmethod
    def load_options(cls, source: str, options: dict[str, Any]) -> ConnectorOptions:
        """The source's `options:` validated by the connector's `Options` model (ConfigError naming the field)."""
        try:
            return cls.Options.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(f"options.{'.'.join(str(x) for x in first['loc'])}: {first['msg']}", source=source,
                              hint="fix the source's options in config/sources.yaml") from None

    @classmethod
    def backfill_cursor(cls, since: datetime) -> CursorModel:
        """A cursor that makes `pull()` re-read the source from `since` (naive = Asia/Shanghai)."""
        raise NotImplementedError

    @classmethod
    def read_cursor(cls, stored: CursorModel | dict[str, Any] | None) -> CursorModel:
        """The typed cursor from what the store holds (None or {} = from the beginning)."""
        if isinstance(stored, cls.Cursor):
            return stored
        if isinstance(stored, CursorModel):
            stored = stored.to_json()
        return cls.Cursor.model_validate(stored or {})

    async def check(self) -> CheckResult:
        """Can we reach and authenticate to the source? (cheap, read-only)"""
        raise NotImplementedError

    def pull(self, cursor: CursorModel | dict[str, Any] | None) -> AsyncIterator[Page]:
        """Yield pages of records changed since `cursor` (None = from the beginning)."""
        raise NotImplementedError

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Apply a status update at the source, at most once per idempotency key."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release clients, browsers and sessions."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

"""The one connector shape every source implements.

Connectors know their system, not the hub: they never import Prefect or the
store. They yield pages of raw records (each with the cursor *after* it, so the
caller lands page and cursor in one transaction) and accept `StatusUpdate`s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from core.schema import PushReceipt, RawRecord, Source, StatusUpdate


@dataclass
class Page:
    """One page of raw records and the cursor that resumes right after it."""

    records: list[RawRecord]
    cursor: Any
    #: extra facts for run reports (e.g. pages scanned, records skipped as unchanged)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    ok: bool
    detail: str = ""


class PushLedger(Protocol):
    """Memory of pushes for sources that are not idempotent (SMS gateways).

    The flow passes a store-backed ledger; tests may pass an in-memory one.
    """

    def get(self, key: str) -> dict[str, Any] | None: ...

    def mark(self, key: str, state: str, remote_ref: str | None = None) -> None: ...


class Connector:
    """Base class: subclasses set `source` and implement the three operations."""

    source: ClassVar[Source]

    async def check(self) -> CheckResult:
        """Can we reach and authenticate to the source? (cheap, read-only)"""
        raise NotImplementedError

    def pull(self, cursor: Any) -> AsyncIterator[Page]:
        """Yield pages of records changed since `cursor` (None = from the beginning)."""
        raise NotImplementedError

    async def push(self, update: StatusUpdate) -> PushReceipt:
        """Apply a status update at the source, at most once per idempotency key."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release clients, browsers and sessions."""

    async def __aenter__(self) -> Connector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

"""Small pieces shared by the incremental pulls of the API connectors.

The rule they implement: a run reads from a lower bound fixed when the run
starts (the stored high-water mark minus an overlap window), dedupes within the
run by (id, version), and only a finished run moves the high-water mark (to the
newest version it saw). Records sharing the boundary timestamp, arriving late
inside the window or updated while the run walks are read again by the next
run; the store ignores payload versions it already holds, so re-reading is
cheap and never duplicates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.schema import SHANGHAI, RawRecord, Source, payload_hash

LOCAL_FMT = "%Y-%m-%d %H:%M:%S"


class RunDedupe:
    """Remembers (id, version) pairs seen in this run; the duplicate-delivery guard."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self.skipped = 0

    def fresh(self, key: str, version: Any) -> bool:
        """True the first time (key, version) is offered in this run."""
        k = (key, str(version))
        if k in self._seen:
            self.skipped += 1
            return False
        self._seen.add(k)
        return True


def external_id(source: str, payload: dict[str, Any], key: str) -> str:
    """The record's id, or a stable stand-in when the source sent none.

    A record without its id is still landed (nothing is lost); mapping then
    quarantines it. The stand-in is derived from the payload so reruns agree.
    """
    value = payload.get(key)
    if isinstance(value, str | int) and str(value).strip():
        return str(value).strip()[:200]
    return f"_missing_{key}:{payload_hash(payload)[:16]}"


def raw(source: str, payload: dict[str, Any], key: str) -> RawRecord:
    """The raw record of one item of an answer (its id from `key`, or a stable stand-in)."""
    return RawRecord(source=Source(source), external_id=external_id(source, payload, key), payload=payload)


def parse_iso(value: Any) -> datetime | None:
    """An ISO-8601 timestamp with offset (app); None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=SHANGHAI)


def parse_local(value: Any) -> datetime | None:
    """A zone-less Asia/Shanghai `YYYY-MM-DD HH:MM:SS` (call centre, SMS); None when malformed."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), LOCAL_FMT)
    except ValueError:
        return None


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional times (None when both are None)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)

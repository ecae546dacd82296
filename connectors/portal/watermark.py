"""Incremental pull for portals: a watermark with an overlap window and a memory of versions.

Portals have no change feed. Each list row shows a time (12315 登记时间, 黑猫
投诉时间) and a status; a row is fetched again only when it is new or its
*version* (status and other list-visible facts) changed. The cursor is

    {"watermark": "YYYY-MM-DD HH:MM:SS",            # newest source time seen by a complete run
     "seen": {id: [time, version]},                 # rows inside the look-back window
     "complete": bool}                              # False on the pages of an unfinished run

- The look-back is `overlap` behind the watermark for new rows (late arrivals,
  rows sharing the watermark's second) and `revisit` behind it for rows whose
  status changed at the source (withdrawals, status moves). `seen` makes both
  windows free of duplicates.
- Pages of a run carry the *old* watermark plus everything done so far, so a run
  stopped half-way resumes without skipping the older rows it never reached;
  only the last page moves the watermark.
- Unparseable times (malformed source records) never move the watermark.
- A change the list does not show (a 12315 supplement adds text; the status stays)
  would never be fetched: with `refresh_every=N` each complete run also re-reads one
  N-th of the open rows it lists (a slice by id), so every open row is re-read at
  least every N complete runs. A killed run does not count: the same slice comes again.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field

from connectors.base import CursorModel

_TS = re.compile(r"(\d{4})\D(\d{1,2})\D(\d{1,2})(?:\D+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_FW = str.maketrans("０１２３４５６７８９：－", "0123456789:-")
FMT = "%Y-%m-%d %H:%M:%S"


def parse_time(text: str | None) -> datetime | None:
    """Portal local time (`2026-11-20 10:31[:05]`, full-width digits allowed) → naive datetime, or None."""
    if not text:
        return None
    m = _TS.search(text.translate(_FW))
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None


@dataclass
class Row:
    """What a list row tells us about one record."""

    id: str
    time: str  # as shown
    version: str  # status and other list-visible facts; a change means "fetch again"
    url: str = ""


class PortalCursor(CursorModel):
    """The state of the incremental pull (stored as the JSON shape in the module doc)."""

    watermark: str | None = None
    seen: dict[str, tuple[str, str]] = Field(default_factory=dict)
    complete: bool = True
    #: complete runs so far: picks which slice of the open rows a run re-reads (`RunPlan.refresh_every`)
    runs: int = 0

    @classmethod
    def at(cls, mark: datetime | None, seen: dict[str, tuple[str, str]], *, complete: bool,
           runs: int = 0) -> PortalCursor:
        """A cursor with watermark `mark` (written in the portal's local time form)."""
        return cls(watermark=mark.strftime(FMT) if mark else None, seen=dict(sorted(seen.items())),
                   complete=complete, runs=runs)

    @property
    def mark(self) -> datetime | None:
        """The watermark as a time (None before the first complete run, or when unparseable)."""
        return parse_time(self.watermark)


class RunPlan:
    """Decisions of one pull run: which rows to fetch, when to stop listing, the cursors to emit."""

    def __init__(self, cursor: PortalCursor, *, overlap: timedelta, revisit: timedelta,
                 refresh_every: int | None = None, final: frozenset[str] = frozenset()):
        self.start = cursor
        self.overlap = overlap
        self.revisit = max(revisit, overlap)
        #: re-read each open row (version not in `final`) every that many complete runs, changed or not:
        #: a change the list does not show (a 12315 【补充】 adds text, not a status) still lands
        self.refresh_every = refresh_every if refresh_every and refresh_every > 0 else None
        self.final = final
        self.seen = dict(cursor.seen)
        self.run_ids: set[str] = set()
        self.max_time: datetime | None = cursor.mark
        self.stats = {"rows": 0, "duplicates": 0, "unchanged": 0, "old": 0, "fetch": 0, "refresh": 0}

    def refresh_turn(self, row: Row) -> bool:
        """Whether this run re-reads `row` although its list version did not change (its slice's turn)."""
        if self.refresh_every is None or row.version in self.final:
            return False
        return zlib.crc32(row.id.encode()) % self.refresh_every == self.start.runs % self.refresh_every

    @property
    def new_since(self) -> datetime | None:
        """Rows at or after this are fetched unless already seen with the same version."""
        wm = self.start.mark
        return wm - self.overlap if wm else None

    @property
    def list_since(self) -> datetime | None:
        """Oldest time the list must reach (revisit window); None = list everything."""
        wm = self.start.mark
        return wm - self.revisit if wm else None

    def is_past_window(self, row_time: str) -> bool:
        """True when a (newest-first) list has gone below the look-back window: stop listing."""
        t = parse_time(row_time)
        since = self.list_since
        return bool(t and since and t < since)

    def wants(self, row: Row) -> bool:
        """Should this row's detail page be fetched? (also dedupes within the run)."""
        self.stats["rows"] += 1
        if row.id in self.run_ids:
            self.stats["duplicates"] += 1
            return False
        self.run_ids.add(row.id)
        t = parse_time(row.time)
        if t and (self.max_time is None or t > self.max_time):
            self.max_time = t
        prev = self.seen.get(row.id)
        if prev is not None:
            if prev[1] == row.version:
                if self.refresh_turn(row):
                    self.stats["refresh"] += 1
                    return True
                self.stats["unchanged"] += 1
                return False
            self.stats["fetch"] += 1
            return True  # changed at the source
        since = self.new_since
        if t is not None and since is not None and t < since:
            # Older than the overlap and never seen: it was fetched by an earlier run
            # before `seen` was pruned, or predates the first watermark. Only revisit
            # rows we remember; anything else here would be re-landing history.
            self.stats["old"] += 1
            return False
        self.stats["fetch"] += 1
        return True

    def done(self, rows: list[Row]) -> None:
        """Remember rows whose records were fetched (they are landed with the page's cursor)."""
        for r in rows:
            self.seen[r.id] = (r.time, r.version)

    def page_cursor(self) -> PortalCursor:
        """Cursor for a page in the middle of a run: old watermark, everything done so far."""
        return PortalCursor.at(self.start.mark, self.seen, complete=False, runs=self.start.runs)

    def final_cursor(self) -> PortalCursor:
        """Cursor after the run's last page: watermark moved, `seen` pruned to the revisit window."""
        wm = self.max_time
        keep_after = wm - self.revisit if wm else None
        seen = {}
        for k, (t, v) in self.seen.items():
            pt = parse_time(t)
            # Unparseable times are kept only while listed in this run (bounded memory).
            if (pt is None and k in self.run_ids) or (pt is not None and (keep_after is None or pt >= keep_after)):
                seen[k] = (t, v)
        return PortalCursor.at(wm, seen, complete=True, runs=self.start.runs + 1)

"""The Chinese business calendar: working days with holidays and 调休 make-up days.

Data comes from the `chinesecalendar` package; `config/calendar.yaml` can add a
year the package does not cover yet (or correct one), from the State Council's
notice. A date in a year neither covers raises `CalendarError` — a holiday is
never silently taken for a working day.

Three time modes measure an SLA duration:
- `calendar`: every second counts;
- `working_days`: only seconds on working days count; `add_working_days`
  gives the end (23:59:59 local) of the n-th working day after the start day
  (the day of receipt is not counted, as in "自受理之日起N个工作日内");
- `business_hours`: only the business hours (default 09:00–18:00) of working days.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field

from core.configfile import cached_config, load_model
from core.errors import CalendarError
from core.logs import get_logger
from core.settings import get_settings

TimeMode = Literal["calendar", "working_days", "business_hours"]
END_OF_DAY = time(23, 59, 59)
#: a walk that finds no counted time in this many days is a calendar bug, not an SLA
MAX_DAYS = 3700

log = get_logger(__name__)


class YearDays(BaseModel):
    """calendar.yaml `years` entry: a year's holidays and 调休 make-up working days."""

    model_config = ConfigDict(extra="forbid")
    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)  # 调休 make-up working days


class Hours(BaseModel):
    """The business hours counted by `business_hours` clocks (local time)."""

    model_config = ConfigDict(extra="forbid")
    start: time = time(9)
    end: time = time(18)


class CalendarConfig(BaseModel):
    """The whole of `config/calendar.yaml`: zone, business hours, extra years, uncovered years."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = "Asia/Shanghai"
    business_hours: Hours = Field(default_factory=Hours)
    years: dict[int, YearDays] = Field(default_factory=dict)
    # A year with no holiday data: "conservative" counts Mon–Fri as working days (so a
    # deadline can only come EARLIER than the real one, never later) and tells the
    # operator loudly; "fail" raises CalendarError instead.
    on_uncovered_year: Literal["conservative", "fail"] = "conservative"


@dataclass
class _Span:
    """A mode's working-time index: day `base + i` has window `wins[i]`; `cum[i]` seconds count before it."""

    base: date
    cum: list[float]
    wins: list[tuple[datetime, datetime] | None]


class BusinessCalendar:
    """Working-day arithmetic over the package's data plus the operator's extra years."""

    def __init__(self, config: CalendarConfig | None = None, source: str = "config/calendar.yaml"):
        self.config = config or CalendarConfig()
        self.tz = ZoneInfo(self.config.timezone)
        self.source = source
        self._extra = {y: (set(v.holidays), set(v.workdays)) for y, v in self.config.years.items()}
        self._cache: dict[date, bool] = {}
        self._windows: dict[tuple[date, str], tuple[datetime, datetime] | None] = {}
        self._spans: dict[str, _Span] = {}  # the working-time index per mode (see `add`)
        #: years used without holiday data (conservative mode); SLA explanations name them
        self.uncovered: set[int] = set()

    # --- days ---------------------------------------------------------------------
    def covers(self, year: int) -> bool:
        """Is there holiday data for `year` (calendar.yaml or the chinesecalendar package)?"""
        if year in self._extra:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 30))
        except NotImplementedError:
            return False
        return True

    def is_workday(self, d: date) -> bool:
        """Is `d` a working day (weekday not a holiday, or a 调休 make-up day)?"""
        hit = self._cache.get(d)
        if hit is not None:
            return hit
        if d.year in self._extra:
            holidays, workdays = self._extra[d.year]
            value = d in workdays or (d.weekday() < 5 and d not in holidays)
        else:
            try:
                value = chinese_calendar.is_workday(d)
            except NotImplementedError as exc:
                if self.config.on_uncovered_year == "conservative":
                    if d.year not in self.uncovered:
                        self.uncovered.add(d.year)
                        log.error("no holiday data for %d: SLA deadlines in %d are counted Mon-Fri (holidays as "
                                  "working days: earlier, never later). Add %d's holidays and 调休 days to %s.",
                                  d.year, d.year, d.year, self.source)
                    value = d.weekday() < 5
                    self._cache[d] = value
                    return value
                raise CalendarError(
                    f"no holiday data for {d.year} (needed for {d.isoformat()}): the chinesecalendar package "
                    f"covers up to {max(chinese_calendar.holidays).year}",
                    hint=f"add {d.year}'s holidays and 调休 make-up days from the State Council notice to "
                         f"{self.source} (years: {d.year}: holidays/workdays), or upgrade chinesecalendar") from exc
        self._cache[d] = value
        return value

    # Internally the walks use naive local wall-clock times (Asia/Shanghai has had no DST
    # since 1991), converting only at the edges: this keeps SLA maths cheap per ticket.
    def _local(self, dt: datetime) -> datetime:
        return dt.astimezone(self.tz).replace(tzinfo=None)

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _window(self, d: date, mode: TimeMode) -> tuple[datetime, datetime] | None:
        """The counted part of local day `d` in `mode` (None: nothing counts that day)."""
        key = (d, mode)
        if key in self._windows:  # SLA maths walks the same few weeks for every ticket
            return self._windows[key]
        w = self._window_uncached(d, mode)
        self._windows[key] = w
        return w

    def _window_uncached(self, d: date, mode: TimeMode) -> tuple[datetime, datetime] | None:
        day = (datetime.combine(d, time(0)), datetime.combine(d + timedelta(days=1), time(0)))
        if mode == "calendar":
            return day
        if not self.is_workday(d):
            return None
        if mode == "working_days":
            return day
        h = self.config.business_hours
        return (datetime.combine(d, h.start), datetime.combine(d, h.end))

    # --- durations --------------------------------------------------------------------
    # A working-time index per mode: for the days from `base` on, the counted seconds before
    # each day (`cum`) and its window. `add` is a binary search, `elapsed` a subtraction; the
    # index grows a day at a time, only as far as a question needs (as the day walk did).
    def _span(self, mode: TimeMode, d: date) -> _Span:
        s = self._spans.get(mode)
        if s is None or d < s.base:  # a date before the index (a backfill): rebuild from it
            s = self._spans[mode] = _Span(d, [0.0], [])
        return s

    def _grow(self, s: _Span, mode: TimeMode, i: int) -> None:
        """Extend the index to cover day index `i`."""
        while len(s.wins) <= i:
            w = self._window(s.base + timedelta(days=len(s.wins)), mode)
            s.wins.append(w)
            s.cum.append(s.cum[-1] + ((w[1] - w[0]).total_seconds() if w else 0.0))

    @staticmethod
    def _counted(s: _Span, i: int, local: datetime) -> float:
        """Counted seconds from the index's base to `local` (on day index `i`)."""
        w = s.wins[i]
        if w is None:
            return s.cum[i]
        t = w[0] if local < w[0] else w[1] if local > w[1] else local
        return s.cum[i] + (t - w[0]).total_seconds()

    def add(self, start: datetime, seconds: float, mode: TimeMode) -> datetime:
        """`start` plus `seconds` of counted time in `mode` (UTC result)."""
        if mode == "calendar" or seconds <= 0:
            return (start + timedelta(seconds=max(0.0, seconds))).astimezone(UTC)
        local = self._local(start)
        s = self._span(mode, local.date())
        i0 = (local.date() - s.base).days
        self._grow(s, mode, i0)
        target = self._counted(s, i0, local) + seconds
        while s.cum[-1] < target:
            if len(s.wins) - i0 >= MAX_DAYS:
                raise CalendarError(f"no counted time within {MAX_DAYS} days of {start}")
            self._grow(s, mode, len(s.wins))
        j = bisect_left(s.cum, target, lo=i0 + 1)  # the first day whose end reaches the target
        w = s.wins[j - 1]
        assert w is not None  # cum rises on day j-1, so it has a window
        return self._utc(w[0] + timedelta(seconds=target - s.cum[j - 1]))

    def elapsed(self, a: datetime, b: datetime, mode: TimeMode) -> float:
        """Counted seconds between `a` and `b` in `mode` (0 when b ≤ a)."""
        if b <= a:
            return 0.0
        if mode == "calendar":
            return (b - a).total_seconds()
        la, lb = self._local(a), self._local(b)
        s = self._span(mode, la.date())
        ia, ib = (la.date() - s.base).days, (lb.date() - s.base).days
        self._grow(s, mode, ib)
        return self._counted(s, ib, lb) - self._counted(s, ia, la)

    def fractions(self, start: datetime, due: datetime, mode: TimeMode, fs: list[float]) -> list[datetime]:
        """`[add(start, int(elapsed(start, due) * f)) for f in fs]` (a clock's warning times), converting
        `start` and `due` to local time once for all of them."""
        if mode == "calendar" or due <= start:
            total = self.elapsed(start, due, mode)
            return [self.add(start, int(total * f), mode) for f in fs]
        la, lb = self._local(start), self._local(due)
        s = self._span(mode, la.date())
        ia, ib = (la.date() - s.base).days, (lb.date() - s.base).days
        self._grow(s, mode, ib)
        c0 = self._counted(s, ia, la)
        total = self._counted(s, ib, lb) - c0
        out = []
        for f in fs:
            seconds = int(total * f)
            if seconds <= 0:
                out.append(start.astimezone(UTC))
                continue
            target = c0 + seconds
            while s.cum[-1] < target:  # pragma: no cover - the target lies before `due`, inside the index
                self._grow(s, mode, len(s.wins))
            j = bisect_left(s.cum, target, lo=ia + 1)
            w = s.wins[j - 1]
            assert w is not None
            out.append(self._utc(w[0] + timedelta(seconds=target - s.cum[j - 1])))
        return out

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End (23:59:59 local) of the n-th working day after `start`'s day; UTC result."""
        d = self._local(start).date()
        if n <= 0:
            return self._utc(datetime.combine(d, END_OF_DAY))
        count = 0
        for _ in range(MAX_DAYS):
            d += timedelta(days=1)
            if self.is_workday(d):
                count += 1
                if count >= n:
                    return self._utc(datetime.combine(d, END_OF_DAY))
        raise CalendarError(f"no {n} working days within {MAX_DAYS} days of {start}")

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """`start` plus `hours` of business hours on working days; UTC result."""
        return self.add(start, hours * 3600, "business_hours")


def load_calendar(path: Path | None = None) -> BusinessCalendar:
    """Read `calendar.yaml` (a missing file means: package data only, 09:00–18:00)."""
    path = path or get_settings().config_dir / "calendar.yaml"
    if not path.exists():
        return BusinessCalendar(source=str(path))
    return BusinessCalendar(load_model(path, CalendarConfig, missing_ok=True), source=str(path))


@cached_config
def get_calendar() -> BusinessCalendar:
    """This process's calendar (cached; `core.configfile.reload_config()` re-reads it)."""
    return load_calendar()


def is_workday(d: date) -> bool:
    """Is `d` a Chinese working day (holidays and 调休 included)?"""
    return get_calendar().is_workday(d)


def add_working_days(start: datetime, n: int) -> datetime:
    """End of the n-th working day after `start` (see module doc)."""
    return get_calendar().add_working_days(start, n)


def add_business_hours(start: datetime, hours: float) -> datetime:
    """`start` plus `hours` business hours on working days."""
    return get_calendar().add_business_hours(start, hours)

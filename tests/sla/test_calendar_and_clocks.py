"""SLA clocks on the Chinese business calendar: National Day and Spring Festival 2026 with their
调休 make-up days, a clock paused mid-way, warnings, revisit, extension, and an uncovered year."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.configfile import reload_config
from core.errors import CalendarError
from core.schema import SHANGHAI, ClockKind, ClockState, Source, Ticket, Urgency, to_local
from hub.sla import (
    extend_resolution,
    pause_clocks,
    resume_clocks,
    start_clocks,
    start_revisit_clock,
    stop_clock,
)
from hub.sla.calendar import (
    BusinessCalendar,
    CalendarConfig,
    YearDays,
    add_business_hours,
    add_working_days,
    is_workday,
)


def L(*a: int) -> datetime:  # noqa: N802 - local Asia/Shanghai time, reads like the calendar
    return datetime(*a, tzinfo=SHANGHAI)


def ticket(source: str = "app", urgency: Urgency = Urgency.GENERAL, at: datetime = L(2026, 9, 28, 10)) -> Ticket:
    t = Ticket(ticket_id="T1", source=Source(source), external_id="x1", received_at=at)
    t.judgement.urgency = urgency
    return t


@pytest.mark.parametrize("day, workday", [
    (date(2026, 9, 20), True),    # Sunday, 调休 make-up for National Day
    (date(2026, 9, 25), False),   # Mid-Autumn Festival (Friday)
    (date(2026, 10, 1), False), (date(2026, 10, 7), False),
    (date(2026, 10, 10), True),   # Saturday, 调休 make-up
    (date(2026, 2, 14), True),    # Saturday before Spring Festival, 调休
    (date(2026, 2, 16), False), (date(2026, 2, 23), False),
    (date(2026, 2, 28), True),    # Saturday, 调休
    (date(2026, 3, 1), False),    # plain Sunday
])
def test_holidays_and_make_up_days(day: date, workday: bool) -> None:
    assert is_workday(day) is workday


@pytest.mark.parametrize("start, n, due", [
    (L(2026, 9, 30, 10), 1, L(2026, 10, 8, 23, 59, 59)),     # straight over National Day
    (L(2026, 9, 30, 10), 3, L(2026, 10, 10, 23, 59, 59)),    # the 3rd is the make-up Saturday
    (L(2026, 9, 18, 15), 1, L(2026, 9, 20, 23, 59, 59)),     # Friday → the make-up Sunday
    (L(2026, 9, 24, 9), 1, L(2026, 9, 28, 23, 59, 59)),      # over Mid-Autumn
    (L(2026, 10, 3, 11), 1, L(2026, 10, 8, 23, 59, 59)),     # received on a holiday
    (L(2026, 2, 13, 17), 1, L(2026, 2, 14, 23, 59, 59)),     # Friday → make-up Saturday
    (L(2026, 2, 13, 17), 2, L(2026, 2, 24, 23, 59, 59)),     # then over Spring Festival
    (L(2026, 2, 12, 10), 10, L(2026, 3, 4, 23, 59, 59)),     # 12315's 10 days incl. Sat 2-14 and 2-28
])
def test_add_working_days(start: datetime, n: int, due: datetime) -> None:
    assert add_working_days(start, n) == due


@pytest.mark.parametrize("start, hours, due", [
    (L(2026, 9, 30, 16), 4, L(2026, 10, 8, 11)),       # 2 h before National Day, 2 h after
    (L(2026, 9, 30, 20), 1, L(2026, 10, 8, 10)),       # after hours on the last day
    (L(2026, 2, 13, 17), 4, L(2026, 2, 14, 12)),       # 1 h Friday, 3 h on the make-up Saturday
    (L(2026, 2, 14, 17), 2, L(2026, 2, 24, 10)),       # 1 h Saturday, 1 h after Spring Festival
    (L(2026, 9, 26, 10), 3, L(2026, 9, 28, 12)),       # starts inside Mid-Autumn
])
def test_add_business_hours(start: datetime, hours: float, due: datetime) -> None:
    assert add_business_hours(start, hours) == due


# source, urgency, received → (first_response policy, due), (resolution policy, due)
SLA_TABLE = [
    ("app", Urgency.GENERAL, L(2026, 9, 30, 16),
     ("general", L(2026, 10, 8, 11)), ("general", L(2026, 10, 13, 23, 59, 59))),   # 8,9,10(Sat),12,13
    ("gov12315", Urgency.GENERAL, L(2026, 9, 28, 9),
     ("general", L(2026, 9, 28, 13)), ("gov12315", L(2026, 10, 16, 23, 59, 59))),
    ("gov12315", Urgency.URGENT, L(2026, 9, 30, 17),
     ("urgent", L(2026, 9, 30, 18)), ("urgent", L(2026, 10, 1, 17))),   # urgent binds on 12315 too
    ("callcenter", Urgency.CONSULTATION, L(2026, 2, 13, 10),
     ("consultation", L(2026, 2, 14, 10)), ("consultation", L(2026, 2, 27, 23, 59, 59))),
    ("sms", Urgency.URGENT, L(2026, 2, 17, 3),
     ("urgent", L(2026, 2, 17, 4)), ("urgent", L(2026, 2, 18, 3))),     # calendar time: holidays count
]


@pytest.mark.parametrize("source, urgency, received, fr, res", SLA_TABLE)
def test_sla_table(source: str, urgency: Urgency, received: datetime, fr: tuple, res: tuple) -> None:
    t = ticket(source, urgency, received)
    clocks = {c.kind: c for c in start_clocks(t, received)}
    assert (clocks[ClockKind.FIRST_RESPONSE].policy, clocks[ClockKind.FIRST_RESPONSE].due_at) == (fr[0], fr[1])
    assert (clocks[ClockKind.RESOLUTION].policy, clocks[ClockKind.RESOLUTION].due_at) == (res[0], res[1])
    assert t.explanations["clock.resolution"].matched == [res[0]]


def test_warning_thresholds() -> None:
    t = ticket("app", Urgency.URGENT, L(2026, 10, 1, 10))
    fr = start_clocks(t, L(2026, 10, 1, 10))[0]
    assert fr.warn_at == [L(2026, 10, 1, 10, 30), L(2026, 10, 1, 10, 45)]
    t = ticket("app", Urgency.GENERAL, L(2026, 9, 30, 16))
    fr = start_clocks(t, L(2026, 9, 30, 16))[0]  # 4 business hours: 50 % lands at 18:00, 75 % after the holiday
    assert [to_local(w) for w in fr.warn_at] == [L(2026, 9, 30, 18), L(2026, 10, 8, 10)]


def test_clock_paused_mid_way_over_national_day() -> None:
    t = ticket("app", Urgency.GENERAL, L(2026, 9, 28, 10))
    start_clocks(t, L(2026, 9, 28, 10))
    res = t.clock(ClockKind.RESOLUTION)
    assert res.due_at == L(2026, 10, 10, 23, 59, 59)  # 29, 30, 8, 9, 10 (make-up Saturday)
    pause_clocks(t, L(2026, 9, 29, 12))
    assert res.state == ClockState.PAUSED
    resume_clocks(t, L(2026, 10, 8, 12))
    # counted (working-day) time lost: 12 h + 24 h + 0 (holidays) + 12 h = 48 h → two more working days
    assert res.due_at == L(2026, 10, 13, 23, 59, 59)
    assert res.state == ClockState.RUNNING and res.paused_seconds == 9 * 86400
    assert "pushed out" in t.explanations["clock.resolution"].reason
    assert stop_clock(t, ClockKind.RESOLUTION, L(2026, 10, 13, 9)) == ClockState.MET


def test_calendar_clock_paused_and_breached() -> None:
    t = ticket("app", Urgency.URGENT, L(2026, 10, 1, 10))
    start_clocks(t, L(2026, 10, 1, 10))
    pause_clocks(t, L(2026, 10, 1, 12))
    resume_clocks(t, L(2026, 10, 1, 15))
    res = t.clock(ClockKind.RESOLUTION)
    assert res.due_at == L(2026, 10, 2, 13)
    assert stop_clock(t, ClockKind.RESOLUTION, L(2026, 10, 2, 14)) == ClockState.BREACHED
    assert stop_clock(t, ClockKind.RESOLUTION, L(2026, 10, 2, 15)) == ClockState.BREACHED  # stays stopped


def test_revisit_and_extension() -> None:
    t = ticket("app", Urgency.GENERAL, L(2026, 9, 28, 10))
    start_clocks(t, L(2026, 9, 28, 10))
    c = extend_resolution(t, 30, "complex wealth dispute, approved by compliance", "banking_extension")
    assert c.due_at == L(2026, 11, 9, 23, 59, 59) and c.policy == "banking_extension"
    assert "approved" in t.explanations["clock.resolution"].reason
    rv = start_revisit_clock(t, L(2026, 10, 9, 16))
    assert rv.kind == ClockKind.REVISIT and rv.due_at == L(2026, 10, 12, 16)  # general: 3 days


def test_uncovered_year_fails_clearly_in_strict_mode() -> None:
    strict = BusinessCalendar(CalendarConfig(on_uncovered_year="fail"))
    with pytest.raises(CalendarError) as err:
        strict.add_working_days(L(2026, 12, 28, 10), 10)
    assert "2027" in str(err.value) and "calendar.yaml" in str(err.value)


def test_uncovered_year_is_conservative_by_default(caplog) -> None:  # noqa: ANN001
    # No data for 2027: Mon–Fri counted, so 1 Jan 2027 (a holiday) counts as a working day and
    # the deadline comes earlier than with real data — never later. The operator is told.
    with caplog.at_level("ERROR"):
        due = add_working_days(L(2026, 12, 30, 10), 3)
    assert due == L(2027, 1, 4, 23, 59, 59)  # 31 Dec, 1 Jan (counted), 4 Jan
    assert "2027" in caplog.text and "calendar.yaml" in caplog.text
    t = ticket("gov12315", Urgency.GENERAL, L(2026, 12, 25, 10))
    start_clocks(t, L(2026, 12, 25, 10))
    assert "CAUTION: no holiday data for 2027" in t.explanations["clock.resolution"].reason


def test_operator_added_year() -> None:
    # test data, not the real 2027 notice: 1 Jan off, Saturday 9 Jan a make-up day
    cal = BusinessCalendar(CalendarConfig(years={2027: YearDays(holidays=[date(2027, 1, 1)],
                                                                workdays=[date(2027, 1, 9)])},
                                          on_uncovered_year="fail"))
    assert cal.add_working_days(L(2026, 12, 30, 10), 3) == L(2027, 1, 5, 23, 59, 59)
    assert cal.is_workday(date(2027, 1, 9)) and not cal.is_workday(date(2027, 1, 10))
    with pytest.raises(CalendarError):
        cal.is_workday(date(2028, 3, 1))


def test_calendar_yaml_is_read(hub_config) -> None:  # noqa: ANN001

    (hub_config / "calendar.yaml").write_text(
        "business_hours: {start: '08:30', end: '17:30'}\nyears:\n  2027:\n    holidays: ['2027-01-01']\n"
        "    workdays: []\n", encoding="utf-8")
    reload_config()
    assert add_working_days(L(2026, 12, 31, 10), 1) == L(2027, 1, 4, 23, 59, 59)
    assert add_business_hours(L(2026, 12, 31, 17), 1) == L(2027, 1, 4, 9)


def test_routing_override_policy_and_urgent_binding() -> None:
    t = ticket("app", Urgency.GENERAL, L(2026, 11, 2, 10))
    res = {c.kind: c for c in start_clocks(t, L(2026, 11, 2, 10), policy="banking")}[ClockKind.RESOLUTION]
    assert (res.policy, res.due_at) == ("banking", L(2026, 11, 17, 10))  # 15 calendar days
    assert "routing override" in t.explanations["clock.resolution"].reason
    t = ticket("app", Urgency.URGENT, L(2026, 11, 2, 10))
    res = {c.kind: c for c in start_clocks(t, L(2026, 11, 2, 10), policy="banking")}[ClockKind.RESOLUTION]
    assert (res.policy, res.due_at) == ("urgent", L(2026, 11, 3, 10))  # an urgent first plan still binds


def test_fractions_are_the_warnings_add_and_elapsed_give() -> None:
    """`fractions` (one local conversion for a clock's warnings) answers what add(elapsed × f) answers,
    across National Day, weekends, nights, zero and negative spans, in every time mode."""
    import random
    from datetime import timedelta

    cal = BusinessCalendar(CalendarConfig())
    rnd = random.Random(19)
    fs = [0.0, 0.5, 0.75, 1.0]
    for _ in range(3000):
        a = datetime(2026, 9, 20, tzinfo=SHANGHAI) + timedelta(seconds=rnd.randrange(40 * 86400))
        b = a + timedelta(seconds=rnd.randrange(-86400, 15 * 86400))
        for mode in ("calendar", "working_days", "business_hours"):
            total = cal.elapsed(a, b, mode)
            assert cal.fractions(a, b, mode, fs) == [cal.add(a, int(total * f), mode) for f in fs], (a, b, mode)

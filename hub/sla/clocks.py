"""SLA clocks: first response, resolution and revisit, on the Chinese business calendar.

Policies come from `config/sla.yaml` (`hub.sla.config`; see its header for how they
combine). These functions change the `Ticket` in memory; the caller saves it (the
store derives `next_alert_at` for the chase from `warn_at` and `due_at`). A ticket
that has no clock of a kind (an unrouted one) is left as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.schema import Clock, ClockKind, ClockState, Explanation, Ticket, to_local, to_utc
from hub.sla.calendar import BusinessCalendar, TimeMode, get_calendar
from hub.sla.config import SlaConfig, get_sla

#: the sla.yaml `extensions` entry an approved extension runs under
EXTENSION_POLICY = "banking_extension"


def _warnings(start: datetime, due: datetime, mode: TimeMode, cal: BusinessCalendar,
              thresholds: list[float]) -> list[datetime]:
    return cal.fractions(start, due, mode, sorted(thresholds))


def _make_clock(ticket: Ticket, kind: ClockKind, start: datetime, override: str | None,
                cfg: SlaConfig, cal: BusinessCalendar) -> Clock | None:
    """The clock of `kind` (see sla.yaml: override, source, urgency; earliest due among binding ones)."""
    specs = cfg.resolve(ticket, kind, override)
    if not specs:
        return None
    candidates = [(spec.due(start, cal), pid, spec, text) for pid, spec, text in specs]
    due, pid, spec, text = min(candidates, key=lambda c: c[0])
    # built from the values computed here (aware UTC datetimes): pydantic's validation would re-check them
    clock = Clock.model_construct(kind=kind, policy=pid, started_at=start, due_at=due, state=ClockState.RUNNING,
                                  paused_at=None, paused_seconds=0.0, stopped_at=None,
                                  warn_at=_warnings(start, due, spec.mode, cal, cfg.warn_thresholds))
    others = [f"{p} {to_local(d):%m-%d %H:%M}" for d, p, _, _ in candidates if p != pid]
    ticket.explanations[f"clock.{kind.value}"] = Explanation.model_construct(
        value=to_local(due).isoformat(timespec="minutes"),
        reason=f"policy {pid}: {text} from {to_local(start):%Y-%m-%d %H:%M}"
               + (" (routing override)" if pid == override else "")
               + (f"; stricter than {', '.join(others)}" if others else "")
               + _uncovered_note(start, due, cal),
        matched=[pid], score=None)
    return clock


def _uncovered_note(start: datetime, due: datetime, cal: BusinessCalendar) -> str:
    if not cal.uncovered:
        return ""
    years = sorted(y for y in cal.uncovered if start.year <= y <= to_local(due).year)
    if not years:
        return ""
    return (f"; CAUTION: no holiday data for {', '.join(map(str, years))} — counted Mon–Fri, so this deadline"
            f" may be earlier than the legal one (add the year to config/calendar.yaml)")


def start_clocks(ticket: Ticket, now: datetime, *, policy: str | None = None) -> list[Clock]:
    """Start first_response and resolution clocks (replacing any earlier ones; revisit is dropped).

    Clocks count from when the complaint was received (never later than `now`):
    the customer's wait began then. `policy` is a routing rule's SLA override.
    """
    cfg, cal = get_sla(), get_calendar()
    start = min(ticket.received_at, to_utc(now))
    made = [c for kind in (ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION)
            if (c := _make_clock(ticket, kind, start, policy, cfg, cal)) is not None]
    ticket.clocks = made
    return made


def restart_clocks(ticket: Ticket, now: datetime, *, policy: str | None = None) -> list[Clock]:
    """New clocks from `now` (a reopened ticket: the customer's new wait starts now)."""
    cfg, cal = get_sla(), get_calendar()
    start = to_utc(now)
    made = [c for kind in (ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION)
            if (c := _make_clock(ticket, kind, start, policy, cfg, cal)) is not None]
    ticket.clocks = made
    return made


def pause_clocks(ticket: Ticket, at: datetime) -> list[Clock]:
    """Pause running clocks (waiting on the customer). Returns the clocks paused."""
    paused = []
    for c in ticket.clocks:
        if c.state == ClockState.RUNNING:
            c.state, c.paused_at = ClockState.PAUSED, to_utc(at)
            paused.append(c)
    return paused


def _resume(c: Clock, at: datetime, cfg: SlaConfig, cal: BusinessCalendar) -> tuple[float, TimeMode]:
    """Resume one paused clock: due and pending warnings move out by the counted paused time."""
    mode = cfg.mode_of(c)
    paused_at = c.paused_at or at
    # the counted time lost while paused (a paused weekend costs nothing in working-day modes)
    lost = cal.elapsed(paused_at, at, mode)
    c.due_at = cal.add(c.due_at, lost, mode)
    c.warn_at = [cal.add(w, lost, mode) if w > paused_at else w for w in c.warn_at]
    c.paused_seconds += (at - paused_at).total_seconds()
    c.paused_at, c.state = None, ClockState.RUNNING
    return lost, mode


def resume_clocks(ticket: Ticket, at: datetime) -> list[Clock]:
    """Resume paused clocks; due and warnings move out by the paused time in the clock's mode."""
    cfg, cal = get_sla(), get_calendar()
    at = to_utc(at)
    resumed = []
    for c in ticket.clocks:
        if c.state != ClockState.PAUSED:
            continue
        lost, mode = _resume(c, at, cfg, cal)
        resumed.append(c)
        ticket.explanations[f"clock.{c.kind.value}"] = Explanation(
            value=to_local(c.due_at).isoformat(timespec="minutes"),
            reason=f"policy {c.policy}: pushed out by {lost / 3600:.1f} h ({mode}) paused waiting on the customer",
            matched=[c.policy])
    return resumed


def stop_clock(ticket: Ticket, kind: ClockKind, at: datetime) -> ClockState | None:
    """Stop a clock at `at`: met when on time, breached when late (a breach stays a breach).

    None when the ticket has no such clock (an unrouted ticket has none).
    """
    c = ticket.clock(kind)
    if c is None:
        return None
    at = to_utc(at)
    if c.stopped_at is not None:
        return c.state  # already stopped: stopping twice changes nothing
    if c.state == ClockState.PAUSED:
        _resume(c, at, get_sla(), get_calendar())
    c.state = ClockState.BREACHED if c.state == ClockState.BREACHED or at > c.due_at else ClockState.MET
    c.stopped_at = at
    return c.state


def start_revisit_clock(ticket: Ticket, at: datetime) -> Clock | None:
    """Start the 回访 clock at resolution (policy of the resolution clock if it has one, else by urgency)."""
    cfg, cal = get_sla(), get_calendar()
    res = ticket.clock(ClockKind.RESOLUTION)
    override = res.policy if res and res.policy in cfg.policies and cfg.policies[res.policy].revisit else None
    clock = _make_clock(ticket, ClockKind.REVISIT, to_utc(at), override, cfg, cal)
    if clock is None:
        return None
    ticket.clocks = [c for c in ticket.clocks if c.kind != ClockKind.REVISIT] + [clock]
    return clock


def extend_resolution(ticket: Ticket, days: float, reason: str = "approved extension",
                      policy: str = EXTENSION_POLICY) -> Clock | None:
    """Push the resolution due out by `days` under an approved extension (e.g. banking +30 days).

    `policy` names the extension in sla.yaml `extensions` (its mode decides whether
    the days are calendar or working days); an unknown name counts calendar days.
    """
    cfg, cal = get_sla(), get_calendar()
    c = ticket.clock(ClockKind.RESOLUTION)
    if c is None:
        return None
    spec = cfg.extensions.get(policy)
    old = c.due_at
    if spec is not None and spec.mode == "working_days":
        c.due_at = cal.add_working_days(old, int(days))
    else:
        c.due_at = to_utc(old + timedelta(days=days))
    if c.state == ClockState.BREACHED and c.stopped_at is None:
        c.state = ClockState.RUNNING
    mode = spec.mode if spec else "calendar"
    c.warn_at = _warnings(c.started_at, c.due_at, mode, cal, cfg.warn_thresholds)
    c.policy = policy if spec else c.policy
    ticket.explanations["clock.resolution"] = Explanation(
        value=to_local(c.due_at).isoformat(timespec="minutes"),
        reason=f"extended by {days:g} days ({policy}): {reason}; was {to_local(old):%Y-%m-%d %H:%M}",
        matched=[policy])
    return c


def restart_for_reopen(ticket: Ticket, at: datetime, fallback: timedelta) -> list[Clock]:
    """New clocks for a reopened ticket (the customer's new wait starts now).

    When no policy sets a resolution clock, one of `fallback` length is started
    (`chase.yaml` survey.reopen_resolution) so a reopened ticket is never unclocked.
    """
    made = restart_clocks(ticket, at)
    if not any(c.kind == ClockKind.RESOLUTION for c in made):
        ticket.clocks = [c for c in ticket.clocks if c.kind not in (ClockKind.RESOLUTION, ClockKind.REVISIT)]
        clock = Clock(kind=ClockKind.RESOLUTION, policy="reopen", started_at=at, due_at=at + fallback,
                      warn_at=[at + fallback * 0.5, at + fallback * 0.75])
        ticket.clocks.append(clock)
        made.append(clock)
    return made

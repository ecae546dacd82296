"""Clock changes used by handling, chase and survey, through `hub.sla` (the SLA rules' owner).

Thin wrappers: they tolerate a ticket that lacks the clock in question (an
unrouted ticket has none) and return the ticket, so callers can chain them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.schema import Clock, ClockKind, Ticket
from hub import sla

EXTENSION_POLICY = "banking_extension"  # sla.yaml `extensions` entry used for approved extensions


def stop_clock(t: Ticket, kind: ClockKind, at: datetime) -> Ticket:
    """Stop a clock: met when on time, a breach stays a breach (no-op when the clock is absent)."""
    if t.clock(kind) is not None:
        sla.stop_clock(t, kind, at)
    return t


def pause_clocks(t: Ticket, at: datetime) -> Ticket:
    """Pause the running clocks (waiting for the customer)."""
    sla.pause_clocks(t, at)
    return t


def resume_clocks(t: Ticket, at: datetime) -> Ticket:
    """Resume paused clocks; due and warnings move out by the paused time."""
    sla.resume_clocks(t, at)
    return t


def start_revisit_clock(t: Ticket, at: datetime) -> Ticket:
    """Start the 回访 clock after resolution (the SLA policy decides its length)."""
    sla.start_revisit_clock(t, at)
    return t


def extend_resolution(t: Ticket, days: int, at: datetime, reason: str = "approved extension") -> Ticket:
    """Push the resolution deadline by `days` (an approved extension)."""
    if t.clock(ClockKind.RESOLUTION) is not None:
        sla.extend_resolution(t, days, reason, EXTENSION_POLICY)
    return t


def restart_for_reopen(t: Ticket, at: datetime, fallback: timedelta) -> Ticket:
    """New clocks for a reopened ticket (the customer's new wait starts now)."""
    made = sla.restart_clocks(t, at)
    if not any(c.kind == ClockKind.RESOLUTION for c in made):
        t.clocks = [c for c in t.clocks if c.kind not in (ClockKind.RESOLUTION, ClockKind.REVISIT)]
        t.clocks.append(Clock(kind=ClockKind.RESOLUTION, policy="reopen", started_at=at, due_at=at + fallback,
                              warn_at=[at + fallback * 0.5, at + fallback * 0.75]))
    return t

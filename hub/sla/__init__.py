"""SLA: policies (`config`), the working-day calendar (`calendar`) and the clocks they set (`clocks`)."""

from hub.sla.calendar import BusinessCalendar, get_calendar
from hub.sla.clocks import (
    EXTENSION_POLICY,
    extend_resolution,
    pause_clocks,
    restart_clocks,
    restart_for_reopen,
    resume_clocks,
    start_clocks,
    start_revisit_clock,
    stop_clock,
)
from hub.sla.config import ClockSpec, Policy, SlaConfig, get_sla, load_sla

__all__ = ["EXTENSION_POLICY", "BusinessCalendar", "ClockSpec", "Policy", "SlaConfig", "extend_resolution",
           "get_calendar", "get_sla", "load_sla", "pause_clocks", "restart_clocks", "restart_for_reopen",
           "resume_clocks", "start_clocks", "start_revisit_clock", "stop_clock"]

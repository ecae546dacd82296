"""`make demo`: the sandbox of all five systems and two full hub cycles, with a summary.

Runs on the embedded defaults — SQLite under var/demo/, a local (ephemeral)
Prefect — in one process so Prefect's temporary server starts only once.
Between the two cycles the back office resolves one ticket per source (as it
would from the console), the push flow sends the push-backs and surveys, and
the sandbox clock moves on six hours: new complaints arrive, a customer
answers a survey with 不满意 (a reopen), and tickets nobody touched breach.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from connectors.registry import source_keys
from core.logs import setup_logging
from core.schema import Status, to_local, utcnow
from core.settings import PROJECT_ROOT
from hub.handling.actions import change_status
from hub.store import Store, get_store
from hub.store.tables import outbox, quarantine, reminders, ticket_events, tickets
from sandbox import Sandbox

if TYPE_CHECKING:
    from flows.cycle import CycleResult

DEMO_HOME = PROJECT_ROOT / "var" / "demo"
ADVANCE_HOURS = 6


def _prepare_env() -> Path:
    if DEMO_HOME.exists():
        shutil.rmtree(DEMO_HOME)
    DEMO_HOME.mkdir(parents=True)
    os.chmod(DEMO_HOME, 0o700)
    os.environ["HUB_HOME"] = str(DEMO_HOME)
    os.environ["HUB_SANDBOX"] = "1"  # the demo talks to the sandbox: its published credentials may resolve
    os.environ.pop("HUB_DATABASE_URL", None)
    os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / "var" / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    return DEMO_HOME / "sandbox-urls.json"


def main() -> int:
    """Entry point of `make demo` (and `hub demo`)."""
    urls_file = _prepare_env()
    started = time.perf_counter()
    setup_logging("ERROR")  # the summary reports quarantines; keep the console readable
    sb = Sandbox(seed=7, rate=24, backlog=40, burst_size=25, survey_reply_prob=1.0,
                 survey_answers={"2": 1.0})  # every surveyed customer answers 不满意
    urls = sb.start(port=0)
    urls_file.write_text(json.dumps(urls))
    os.environ["HUB_SOURCE_URLS"] = str(urls_file)
    try:
        return asyncio.run(_run(sb, started))
    finally:
        sb.stop()


async def _run(sb: Sandbox, started: float) -> int:
    # Prefect reads PREFECT_HOME and its settings when first imported: only after _prepare_env()
    from flows.cycle import hub_cycle
    from flows.ops import push_updates

    store = get_store()
    store.upgrade()
    print(f"complaint hub demo — sandbox at {', '.join(f'{k}={v}' for k, v in sb.urls.items())}")
    print(f"store: {store.engine.url.render_as_string(hide_password=True)}\n")

    # Cycle 1 runs on the real clock (the sandbox starts at "now", rounded down to the
    # minute); later steps follow the sandbox clock as it jumps ahead.
    t0 = max(sb.now(), utcnow())
    print(f"[1/4] cycle 1 at {to_local(t0):%Y-%m-%d %H:%M}: sync all → route → push → chase")
    first = await hub_cycle()
    _print_cycle(first)

    print("\n[2/4] back office resolves one ticket per source; the push flow sends push-backs and surveys")
    resolved = _resolve_some(store, now=t0 + timedelta(minutes=30))
    await push_updates()
    print(f"      resolved {len(resolved)}: {', '.join(resolved)}")

    sb.advance(minutes=ADVANCE_HOURS * 60)
    t1 = sb.now()
    print(f"\n[3/4] sandbox clock +{ADVANCE_HOURS} h: new complaints, survey answers, deadlines pass")
    print(f"[4/4] cycle 2 at {to_local(t1):%Y-%m-%d %H:%M} (sandbox time)")
    second = await hub_cycle(now=t1)
    _print_cycle(second)
    _print_summary(store, sb, first, second)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    return 0


def _resolve_some(store: Store, now: datetime) -> list[str]:
    """Resolve the oldest routed ticket of each source, the way a handler would."""
    done = []
    with store.begin() as conn:
        for source in source_keys():
            tid = conn.execute(select(tickets.c.ticket_id).where(
                tickets.c.source == source, tickets.c.status == "assigned", tickets.c.kind == "complaint")
                .order_by(tickets.c.received_at).limit(1)).scalar()
            if tid:
                change_status(conn, tid, Status.RESOLVED, actor="handler:demo", now=now,
                              note="已致电客户核实情况，已按规定退还相关费用并致歉。",
                              reply="您好，您反映的问题已核实处理，相关费用已退回，给您带来不便深表歉意。",
                              settled=True, method="电话协商")
                done.append(f"{source}:{tid}")
    return done


def _print_cycle(result: CycleResult) -> None:
    rows = [r.row() for r in result.sources]
    print(f"      {'source':<11}{'pulled':>7}{'new':>6}{'tickets':>9}{'updated':>9}{'quarant.':>9}"
          f"{'routed':>8}  status")
    for r in rows:
        status = "ok" if not r["failed"] else f"FAILED: {str(r['error'])[:60]}"
        print(f"      {r['source']:<11}{r.get('pulled', 0):>7}{r.get('new', 0):>6}{r.get('created', 0):>9}"
              f"{r.get('updated', 0):>9}{r.get('quarantined', 0):>9}{r.get('routed', 0):>8}  {status}")


def _print_summary(store: Store, sb: Sandbox, first: CycleResult, second: CycleResult) -> None:
    with store.begin() as conn:
        per_team = conn.execute(select(tickets.c.team, func.count()).where(tickets.c.team.is_not(None))
                                .group_by(tickets.c.team).order_by(tickets.c.team)).all()
        reminder_levels = Counter(r.level.split("_")[0] for r in conn.execute(select(reminders.c.level)))
        sent = conn.execute(select(outbox.c.kind, outbox.c.target, outbox.c.payload)
                            .where(outbox.c.state == "sent", outbox.c.kind.in_(["status_update", "sms"]))).all()
        reasons = [f"{r.source} {r.external_id} {r.field}: {r.reason}" for r in conn.execute(
            select(quarantine.c.source, quarantine.c.external_id, quarantine.c.field, quarantine.c.reason))]
        reopened = conn.execute(select(func.count()).select_from(ticket_events)
                                .where(ticket_events.c.kind == "reopened")).scalar()
        quarantined = conn.execute(select(func.count()).select_from(quarantine)).scalar()
        dead = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.state == "dead")).scalar()
    pushed: Counter[str] = Counter()
    surveys_sent = 0
    for kind, target, payload in sent:
        if kind == "status_update":
            pushed[target] += 1
        elif (payload or {}).get("purpose") == "survey":
            surveys_sent += 1
        else:  # the SMS source has no channel of its own: the result goes by SMS
            pushed["sms"] += 1
    writes = Counter(w["source"] for w in sb.writes() if w["kind"] != "send")
    sms_sent = sum(1 for w in sb.writes("sms") if w["kind"] == "send")
    print("\nsummary")
    print("  routed per team:   " + ", ".join(f"{t}={n}" for t, n in per_team))
    print("  reminders (催办):  " + (", ".join(f"{k}={v}" for k, v in sorted(reminder_levels.items())) or "none"))
    print("  pushed back:       " + (", ".join(f"{k}={v}" for k, v in sorted(pushed.items())) or "none")
          + f"   (sandbox recorded writes: {dict(writes)}, SMS sent: {sms_sent})")
    print(f"  surveys sent:      {surveys_sent}   reopened after 不满意: {reopened}")
    print(f"  quarantined:       {quarantined}   dead outbox rows: {dead}")
    for reason in reasons[:5]:
        print(f"    - {reason[:110]}")
    print("\nwhere to look next (same HUB_HOME):")
    print(f"  export HUB_HOME={DEMO_HOME}")
    print("  .venv/bin/hub tickets list --overdue        # open tickets past a deadline")
    print("  .venv/bin/hub tickets show <ticket id>      # fields, clocks, why, timeline")
    print("  .venv/bin/hub quarantine list               # records that could not be mapped")
    print("  .venv/bin/hub outbox list                   # what was sent where")


if __name__ == "__main__":
    sys.exit(main())

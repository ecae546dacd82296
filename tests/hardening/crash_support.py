"""The crash-safety loop shared by the short (CI) and long (`--run-slow`) tests."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.settings import PROJECT_ROOT

HTTP_SOURCES = ["app", "sms", "callcenter"]


@dataclass
class CrashReport:
    """What the loop did and found."""

    kills: int = 0
    kills_cli: int = 0
    iterations: int = 0
    clean_runs: int = 0
    killed_before_ready: int = 0
    resolved: int = 0
    seconds: float = 0.0
    rerun_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.kills} SIGKILLs ({self.kills_cli} of `hub pull`, the rest of pull+normalise+route+drain) "
                f"over {self.iterations} iterations, {self.clean_runs} clean reruns, {self.resolved} tickets "
                f"resolved (push-backs), {self.seconds:.0f} s ({self.rerun_seconds:.0f} s in reruns); problems: {len(self.problems)}")


def _env(db_url: str, urls_file: Path) -> dict[str, str]:
    return {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_SOURCE_URLS": str(urls_file),
            "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}


def _worker_cmd(ahead: float) -> list[str]:
    return [sys.executable, "-m", "tests.hardening.crash_worker", "--sources", ",".join(HTTP_SOURCES),
            "--ahead-minutes", str(ahead)]


def _kill_at_random(cmd: list[str], env: dict[str, str], rnd: random.Random, wait_ready: bool,
                    max_delay: float) -> bool:
    """Start `cmd`, SIGKILL it after a random delay; True when it was killed (not already finished)."""
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        if wait_ready and proc.stdout is not None:
            proc.stdout.readline()  # "ready": imports done, the work starts now
        time.sleep(rnd.uniform(0.0, max_delay))
        if proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        return True
    finally:
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()


def _clean_run(env: dict[str, str]) -> None:
    proc = subprocess.run(_worker_cmd(6.0), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or "done" not in proc.stdout:
        raise AssertionError(f"clean rerun failed ({proc.returncode}): {proc.stderr[-2000:]}")


def _resolve_some(store: Any, rnd: random.Random, n: int) -> int:
    from core.schema import Status
    from hub.handling.actions import change_status
    from hub.store.tables import tickets

    with store.begin() as conn:
        ids = list(conn.execute(select(tickets.c.ticket_id).where(
            tickets.c.status == "assigned", tickets.c.source.in_(HTTP_SOURCES)).order_by(tickets.c.ticket_id))
            .scalars())
        picked = rnd.sample(ids, k=min(n, len(ids)))
        for tid in picked:
            change_status(conn, tid, Status.RESOLVED, actor="handler:crash-test", note="已核实并处理",
                          reply="您好，问题已处理。", settled=True, method="电话协商")
    return len(picked)


def check_invariants(store: Any, sb: Any) -> list[str]:
    """Nothing lost, no duplicate ticket, no double effect at the sandbox. Returns the problems found."""
    from hub.store.tables import raw_records, tickets

    problems: list[str] = []
    with store.begin() as conn:
        landed = {(r.source, r.external_id) for r in conn.execute(
            select(raw_records.c.source, raw_records.c.external_id))}
        dup = conn.execute(select(tickets.c.source, tickets.c.external_id, func.count())
                           .group_by(tickets.c.source, tickets.c.external_id).having(func.count() > 1)).all()
        unprocessed = conn.execute(select(func.count()).select_from(raw_records)
                                   .where(raw_records.c.state == "landed")).scalar()
        unrouted = conn.execute(select(func.count()).select_from(tickets).where(
            tickets.c.team.is_(None), tickets.c.status == "new", tickets.c.kind == "complaint")).scalar()
    for src in HTTP_SOURCES:
        for t in sb.truth(src):
            if not t.get("malformed") and (src, t["external_id"]) not in landed:
                problems.append(f"lost: {src}:{t['external_id']} never landed")
    if unprocessed:
        problems.append(f"{unprocessed} raw records landed but never normalised")
    if unrouted:
        problems.append(f"{unrouted} complaint tickets without a team after the clean rerun")
    problems += [f"duplicate ticket {s}:{e} ×{n}" for s, e, n in dup]
    writes = [w for w in sb.writes() if w["source"] in HTTP_SOURCES]
    by_key = Counter(w["idempotency_key"] for w in writes if w.get("idempotency_key"))
    problems += [f"double effect: idempotency key {k} recorded {n}×" for k, n in by_key.items() if n > 1]
    by_out = Counter(w["data"].get("out_id") for w in writes if w["kind"] == "send" and w["data"].get("out_id"))
    problems += [f"double effect: SMS out_id {k} sent {n}×" for k, n in by_out.items() if n > 1]
    by_order = Counter((w["external_id"], w["data"].get("status"), w["data"].get("result"))
                       for w in writes if w["source"] == "callcenter" and w["kind"] == "update")
    problems += [f"double effect: callcenter update {k[0]}→{k[1]} recorded {n}×" for k, n in by_order.items() if n > 1]
    by_reply = Counter((w["external_id"], json.dumps(w["data"], sort_keys=True, ensure_ascii=False))
                       for w in writes if w["source"] == "app")
    problems += [f"double effect: app write {k[0]} recorded {n}×" for k, n in by_reply.items() if n > 1]
    return problems


def crash_loop(sb: Any, store: Any, tmp: Path, *, kills: int, seed: int = 1, kills_per_rerun: int = 2,
               max_delay: float = 1.5) -> CrashReport:
    """SIGKILL workers at random points until `kills` kills happened; after each batch rerun and check."""
    rnd = random.Random(seed)
    urls = tmp / "urls.json"
    urls.write_text(json.dumps(sb.urls))
    env = _env(store.url, urls)
    rep = CrashReport()
    t0 = time.perf_counter()
    hub_bin = str(Path(sys.executable).parent / "hub")
    while rep.kills < kills:
        rep.iterations += 1
        sb.advance(minutes=rnd.choice([10, 20, 40]))  # new complaints and source-side updates
        rep.resolved += _resolve_some(store, rnd, rnd.randint(1, 4))
        for _ in range(kills_per_rerun):
            if rnd.random() < 0.3:  # the literal CLI: `hub pull SOURCE`
                cmd = [hub_bin, "pull", rnd.choice(HTTP_SOURCES)]
                killed = _kill_at_random(cmd, env, rnd, wait_ready=False, max_delay=max_delay + 1.0)
                rep.kills_cli += killed
            else:
                killed = _kill_at_random(_worker_cmd(rnd.choice([0.0, 6.0])), env, rnd, wait_ready=True,
                                         max_delay=max_delay)
            rep.kills += killed
        t1 = time.perf_counter()
        _clean_run(env)
        rep.rerun_seconds += time.perf_counter() - t1
        rep.clean_runs += 1
        found = check_invariants(store, sb)
        if found:
            rep.problems += [f"iteration {rep.iterations}: {p}" for p in found]
            break
    rep.seconds = time.perf_counter() - t0
    return rep

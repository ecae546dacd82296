"""The shared in-memory state of the five systems and the simulated clock.

All five servers (one event loop thread) and the Python API (test thread)
touch this object, so every public method takes `lock`. Times on records are
simulated (Asia/Shanghai); session and token lifetimes, HMAC windows and SMS
code validity use real time, because clients use their real clocks.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox import texts
from sandbox.channels import fmt_min, fmt_sec, iso_min
from sandbox.faults import Faults, initial_faults
from sandbox.generator import SHANGHAI, SOURCES, Generator, GenRecord

BACKLOG_DAYS = 3
UPDATE_SHARE = 0.15  # source-side updates per new complaint


@dataclass
class Rec:
    """A record held by a system: current payload, truth and bookkeeping."""

    source: str
    key: str  # the intended external id (routes use it even when the payload lost it)
    payload: dict[str, Any]
    truth: dict[str, Any]
    created: datetime
    updated: datetime
    seq: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    sid: str
    source: str
    expires: float  # real monotonic-ish wall time
    authed: bool = False
    csrf: str = ""
    sms_pending: bool = False
    flash: str | None = None


class SandboxState:
    """Records, writes, truth, sessions, faults and the clock of one sandbox."""

    def __init__(self, *, seed: int = 1, rate: float = 60, backlog: int = 50, start: datetime | None = None,
                 faults: dict[str, Any] | None = None, burst_size: int = 200, burst_at_minutes: float | None = None,
                 malformed_rate: float = 0.02, survey_reply_prob: float = 0.6,
                 survey_answers: dict[str, float] | None = None) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.seed, self.rate, self.backlog_n = seed, rate, backlog
        start = start or datetime.now(SHANGHAI).replace(second=0, microsecond=0)
        if start.tzinfo is None:
            start = start.replace(tzinfo=SHANGHAI)
        self.start = start.astimezone(SHANGHAI)
        self.fault_spec, self.burst_size, self.burst_at_minutes = faults, burst_size, burst_at_minutes
        self.malformed_rate, self.survey_reply_prob = malformed_rate, survey_reply_prob
        #: {reply text: weight} of simulated survey answers (None: the default mix of systems/sms.py)
        self.survey_answers = survey_answers
        self.reset()

    # -- lifecycle -------------------------------------------------------------
    def reset(self) -> None:
        """Regenerate everything from the seed; writes, sessions and faults start over."""
        with self.lock:
            self.now = self.start
            self.gen = Generator(self.seed, malformed_rate=self.malformed_rate)
            self.arrival_rng = random.Random(self.seed * 31 + 7)
            self.resp_rng = random.Random(self.seed * 7919 + 1)
            self.misc_rng = random.Random()
            self.records: dict[str, dict[str, Rec]] = {s: {} for s in SOURCES}
            self.truth_list: list[dict[str, Any]] = []
            self.write_list: list[dict[str, Any]] = []
            self.faults = {s: initial_faults(s, self.fault_spec, self.malformed_rate) for s in SOURCES}
            self.sessions: dict[str, Session] = {}
            self.tokens: dict[str, float] = {}
            self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
            self.nonces: dict[str, float] = {}
            self.sends: list[dict[str, Any]] = []
            self.reports: list[dict[str, Any]] = []
            self.unsubscribed: set[str] = set()
            self.sms_code: dict[str, Any] | None = None
            self.events: list[tuple[datetime, int, str, dict[str, Any]]] = []
            self._seq = itertools.count(1)
            self._ev_seq = itertools.count(1)
            self._incidents = itertools.count(1)
            self.gen.malformed_rates = {s: f.malformed_rate for s, f in self.faults.items()}
            self._generate_backlog()
            if self.burst_at_minutes is not None:
                self._schedule_burst(self.start + timedelta(minutes=self.burst_at_minutes), self.burst_size, 30)

    def _generate_backlog(self) -> None:
        span = BACKLOG_DAYS * 86400
        times = sorted(self.start - timedelta(seconds=self.arrival_rng.uniform(60, span))
                       for _ in range(self.backlog_n))
        for at in times:
            self.add(self.gen.next_record(at))
        # Part of the backlog is already being handled at the source.
        for src, status in (("gov12315", "处理中"), ("blackcat", "处理中"), ("app", "processing"), ("callcenter", "20")):
            for r in list(self.records[src].values())[::5]:
                self._set_status(r, status, self.start - timedelta(minutes=5))
        # A data migration stamped many app records with one time: pagination must cope.
        apps = [r for r in self.records["app"].values() if not r.truth["malformed"]]
        if len(apps) >= 3:
            same = self.start - timedelta(days=1)
            for r in apps[: max(3, len(apps) // 5)]:
                r.created = r.updated = same
                r.payload["created_at"] = r.payload["updated_at"] = iso_min(same)

    # -- records -----------------------------------------------------------------
    def add(self, g: GenRecord) -> Rec:
        with self.lock:
            rec = Rec(g.source, g.external_id, g.payload, g.truth, g.created, g.updated, next(self._seq))
            if g.source == "app":
                rec.updated = rec.updated.replace(second=0, microsecond=0)
            self.records[g.source][g.external_id] = rec
            self.truth_list.append(g.truth)
            return rec

    def get(self, source: str, key: str) -> Rec | None:
        with self.lock:
            return self.records[source].get(key)

    def listing(self, source: str) -> list[Rec]:
        with self.lock:
            return list(self.records[source].values())

    def touch(self, rec: Rec, at: datetime | None = None) -> None:
        """Mark a record changed now (app: minute precision; callcenter: local string)."""
        at = at or self.now
        if rec.source == "app":
            rec.updated = at.replace(second=0, microsecond=0)
            rec.payload["updated_at"] = iso_min(at)
        elif rec.source == "callcenter":
            rec.updated = at
            rec.payload["updated"] = fmt_sec(at)
        else:
            rec.updated = at

    def _set_status(self, rec: Rec, status: str, at: datetime) -> None:
        rec.payload["status"] = status
        if rec.source == "blackcat":
            rec.payload.setdefault("progress", []).append({"time": fmt_min(at), "text": f"投诉进度更新：{status}"})
        self.touch(rec, at)

    # -- clock -----------------------------------------------------------------------
    def advance(self, minutes: float) -> int:
        """Move the simulated clock; returns how many new records arrived."""
        with self.lock:
            target = self.now + timedelta(minutes=minutes)
            count = 0
            per_sec = self.rate * (1 + UPDATE_SHARE) / 3600
            t = self.now
            arrivals: list[datetime] = []
            if per_sec > 0:
                while True:
                    t = t + timedelta(seconds=self.arrival_rng.expovariate(per_sec))
                    if t > target:
                        break
                    arrivals.append(t)
            ai = 0
            while True:
                next_arrival = arrivals[ai] if ai < len(arrivals) else None
                next_event = self.events[0][0] if self.events and self.events[0][0] <= target else None
                if next_arrival is None and next_event is None:
                    break
                if next_event is not None and (next_arrival is None or next_event <= next_arrival):
                    at, _, kind, data = heapq.heappop(self.events)
                    self.now = max(self.now, at)
                    count += self._run_event(kind, data)
                    continue
                ai += 1
                assert next_arrival is not None  # no event came first, so an arrival did
                self.now = next_arrival
                if self.arrival_rng.random() < UPDATE_SHARE / (1 + UPDATE_SHARE):
                    self._source_update()
                else:
                    self.gen.malformed_rates = {s: f.malformed_rate for s, f in self.faults.items()}
                    self.add(self.gen.next_record(self.now))
                    count += 1
            self.now = target
            return count

    def schedule(self, at: datetime, kind: str, data: dict[str, Any]) -> None:
        with self.lock:
            heapq.heappush(self.events, (at, next(self._ev_seq), kind, data))

    def _schedule_burst(self, at: datetime, size: int, minutes: float) -> str:
        incident = f"B{next(self._incidents)}"
        for _ in range(size):
            self.schedule(at + timedelta(seconds=self.resp_rng.uniform(0, minutes * 60)), "burst", {"incident": incident})
        return incident

    def burst(self, size: int, minutes: float = 30) -> str:
        with self.lock:
            return self._schedule_burst(self.now, size, minutes)

    def _run_event(self, kind: str, data: dict[str, Any]) -> int:
        if kind == "burst":
            self.add(self.gen.burst_record(self.now, data["incident"]))
            return 1
        if kind == "mo":
            g = self.gen.sms_message(self.now, data["mobile"], data["content"], data["kind"], answer=data.get("answer"),
                                     reply_to_out_id=data.get("reply_to_out_id"))
            if data["kind"] == "unsubscribe":
                self.unsubscribed.add(data["mobile"])
            self.add(g)
            return 1
        if kind == "report":
            send = data["send"]
            bad = send["mobile"] in self.unsubscribed
            send["status"] = "FAILED" if bad else "DELIVERED"
            self.reports.append({"biz_id": send["biz_id"], "out_id": send["out_id"], "mobile": send["mobile"],
                                 "status": "UNDELIV" if bad else "DELIVRD",
                                 "err_code": "UNSUBSCRIBED" if bad else "DELIVRD", "report_at": fmt_sec(self.now)})
            return 0
        if kind == "rating":
            rec = self.get("app", data["id"])
            if rec and rec.payload.get("status") != "withdrawn":
                rec.payload["rating"] = data["rating"]
                self.touch(rec)
            return 0
        return 0

    def _source_update(self) -> None:
        """A change made at the source: supplement, withdrawal or status move."""
        rng = self.arrival_rng
        src = rng.choice(("gov12315", "blackcat", "app", "app", "callcenter"))
        recs = [r for r in self.records[src].values() if not r.truth["malformed"] and not r.truth.get("closed")]
        if not recs:
            return
        rec = recs[rng.randrange(len(recs))]
        p, r = rec.payload, rng.random()
        rec.truth.setdefault("updates", [])
        if src == "gov12315" and p["status"] in ("待处理", "处理中"):
            if r < 0.25:
                p["status"] = "已撤回"
                rec.truth["updates"].append("withdrawn")
            elif r < 0.6 and p["status"] == "待处理":
                p["status"] = "处理中"
                rec.truth["updates"].append("status")
            else:
                p["content"] += rng.choice(texts.SUPPLEMENT)
                rec.truth["updates"].append("supplement")
            self.touch(rec)
        elif src == "blackcat" and p["status"] != "已完成":
            if r < 0.5 and p["status"] == "审核通过":
                self._set_status(rec, "处理中", self.now)
                rec.truth["updates"].append("status")
            else:
                p["content"] += rng.choice(texts.SUPPLEMENT)
                p["progress"].append({"time": fmt_min(self.now), "text": "用户补充了投诉内容"})
                rec.truth["updates"].append("supplement")
                self.touch(rec)
        elif src == "app" and p["status"] in ("open", "processing"):
            if r < 0.3:
                p["status"] = "withdrawn"
                rec.truth["updates"].append("withdrawn")
            else:
                p["content"] += rng.choice(texts.SUPPLEMENT)
                rec.truth["updates"].append("supplement")
            self.touch(rec)
        elif src == "callcenter" and p["status"] in ("10", "20"):
            if r < 0.15:
                p["status"] = "90"
                rec.truth["updates"].append("withdrawn")
            else:
                p["status"] = "20"
                p["transcript"] += "（客户再次来电催办）"
                rec.truth["updates"].append("status")
            self.touch(rec)

    # -- admin operations ---------------------------------------------------------------
    def generate(self, n: int, source: str | None = None) -> list[tuple[str, str]]:
        """`n` new complaints now (on `source`, or mixed)."""
        with self.lock:
            out = []
            for _ in range(n):
                rec = self.add(self.gen.complaint(self.now, source) if source else self.gen.next_record(self.now))
                out.append((rec.source, rec.key))
            return out

    def inject(self, source: str, fields: dict[str, Any] | None = None, kind: str = "complaint",
               malformed: bool = False) -> str:
        """Add one record now; `fields` override payload keys (SMS: a survey reply by content)."""
        fields = dict(fields or {})
        with self.lock:
            if source == "sms" and "content" in fields and kind == "complaint":
                content = str(fields["content"]).strip()
                if content in texts.SURVEY_SATISFIED + texts.SURVEY_DISSATISFIED:
                    kind = "survey_reply"
                elif content.upper() in texts.UNSUBSCRIBE or content in texts.UNSUBSCRIBE:
                    kind = "unsubscribe"
            if source == "sms" and kind != "complaint":
                mobile = str(fields.get("mobile") or self.gen.customer(self.now.year).mobile)
                content = str(fields.get("content", "1"))
                answer = None
                if kind == "survey_reply":
                    answer = "satisfied" if content in texts.SURVEY_SATISFIED else "dissatisfied"
                else:
                    self.unsubscribed.add(mobile)
                g = self.gen.sms_message(self.now, mobile, content, kind, answer=answer,
                                         reply_to_out_id=fields.get("reply_to_out_id"))
            else:
                g = self.gen.complaint(self.now, source, malformed=malformed)
            g.payload.update(fields)
            rec = self.add(g)
            if fields:
                rec.truth["injected_fields"] = sorted(fields)
            return rec.key

    # -- writes, truth ---------------------------------------------------------------
    def record_write(self, source: str, kind: str, external_id: str, data: dict[str, Any],
                     idempotency_key: str | None = None) -> dict[str, Any]:
        with self.lock:
            w = {"seq": len(self.write_list) + 1, "source": source, "kind": kind, "external_id": external_id,
                 "at": self.now.isoformat(), "data": data, "idempotency_key": idempotency_key}
            self.write_list.append(w)
            return w

    def writes(self, source: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(w) for w in self.write_list if source in (None, w["source"])]

    def truth(self, source: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(t) for t in self.truth_list if source in (None, t["source"])]

    # -- sessions and tokens (real time) -----------------------------------------------
    def new_session(self, source: str) -> Session:
        with self.lock:
            sid = f"{self.misc_rng.getrandbits(128):032x}"
            s = Session(sid, source, time.time() + self.faults[source].session_ttl,
                        csrf=f"{self.misc_rng.getrandbits(128):032x}")
            self.sessions[sid] = s
            return s

    def session(self, source: str, sid: str | None) -> Session | None:
        with self.lock:
            s = self.sessions.get(sid or "")
            if s is None or s.source != source:
                return None
            if time.time() > s.expires:
                del self.sessions[s.sid]
                return None
            return s

    def expire_sessions(self, source: str | None = None) -> int:
        with self.lock:
            gone = [k for k, s in self.sessions.items() if source in (None, s.source)]
            for k in gone:
                del self.sessions[k]
            n = len(gone)
            if source in (None, "app"):
                n += len(self.tokens)
                self.tokens.clear()
            return n

    def issue_sms_code(self, mobile: str) -> str:
        with self.lock:
            code = f"{self.misc_rng.randrange(0, 1_000_000):06d}"
            self.sms_code = {"code": code, "issued_at": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
                             "mobile": mobile[:3] + "****" + mobile[-4:], "_real": time.time()}
            return code

    def set_faults(self, source: str, **kw: Any) -> Faults:
        with self.lock:
            merged = self.faults[source].model_dump() | kw
            self.faults[source] = Faults(**merged)
            return self.faults[source]

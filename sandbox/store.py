"""What the simulated systems' routes read and write: records, writes, sessions, tokens, faults.

`Store` is the part of the shared state that a system's HTTP app needs; the
simulation that fills it (generator, clock, backlog, source-side updates) is
`sandbox.state.SandboxState`, a subclass. The split keeps the system modules
below the state in the import graph: the state looks systems up in the
registry, and the systems only know this store.

All five servers (one event loop thread) and the Python API (test thread)
touch the store, so callers take `lock`. Times on records are simulated
(Asia/Shanghai); session and token lifetimes, HMAC windows and SMS code
validity use real time, because clients use their real clocks.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.channels import SHANGHAI
from sandbox.faults import Faults


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
    """A portal login session (real-time expiry)."""

    sid: str
    source: str
    expires: float  # real monotonic-ish wall time
    authed: bool = False
    csrf: str = ""
    sms_pending: bool = False
    flash: str | None = None


def touch_record(rec: Rec, at: datetime) -> None:
    """The plain way a record shows it changed: only its (hidden) update time moves."""
    rec.updated = at


class Store:
    """Records, writes, truth, sessions, tokens, faults and scheduled events of one sandbox.

    Attributes are set by `SandboxState.reset` (`clear` for the containers).
    """

    now: datetime
    start: datetime
    resp_rng: random.Random  # seeded: simulated customers' answers to what the hub writes
    misc_rng: random.Random  # unseeded: session ids, tokens, SMS codes
    survey_reply_prob: float
    survey_answers: dict[str, float] | None

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()

    def clear(self, sources: Iterable[str], faults: dict[str, Faults]) -> None:
        """Empty every container: one record table per source, `faults` as the fault settings."""
        self.records: dict[str, dict[str, Rec]] = {s: {} for s in sources}
        self.truth_list: list[dict[str, Any]] = []
        self.write_list: list[dict[str, Any]] = []
        self.faults = faults
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, float] = {}
        self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
        self.nonces: dict[str, float] = {}
        self.sends: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []
        self.unsubscribed: set[str] = set()
        #: mobiles whose handset is off: their reports say UNDELIV/IS_CLOSE (a resend later may arrive)
        self.powered_off: set[str] = set()
        self.sms_code: dict[str, Any] | None = None
        self.events: list[tuple[datetime, int, str, dict[str, Any]]] = []
        self._ev_seq = itertools.count(1)

    # -- records -----------------------------------------------------------------
    def get(self, source: str, key: str) -> Rec | None:
        """One record of `source` by its intended external id."""
        with self.lock:
            return self.records[source].get(key)

    def listing(self, source: str) -> list[Rec]:
        """All records of `source`, in arrival order."""
        with self.lock:
            return list(self.records[source].values())

    def schedule(self, at: datetime, kind: str, data: dict[str, Any]) -> None:
        """Run event `kind` with `data` when the simulated clock reaches `at`."""
        with self.lock:
            heapq.heappush(self.events, (at, next(self._ev_seq), kind, data))

    # -- writes, truth ---------------------------------------------------------------
    def record_write(self, source: str, kind: str, external_id: str, data: dict[str, Any],
                     idempotency_key: str | None = None) -> dict[str, Any]:
        """Record one write a system accepted (see README "Write entry")."""
        with self.lock:
            w = {"seq": len(self.write_list) + 1, "source": source, "kind": kind, "external_id": external_id,
                 "at": self.now.isoformat(), "data": data, "idempotency_key": idempotency_key}
            self.write_list.append(w)
            return w

    def writes(self, source: str | None = None) -> list[dict[str, Any]]:
        """Copies of the recorded writes (of one source, or all)."""
        with self.lock:
            return [dict(w) for w in self.write_list if source in (None, w["source"])]

    def truth(self, source: str | None = None) -> list[dict[str, Any]]:
        """Copies of the truth entries (of one source, or all)."""
        with self.lock:
            return [dict(t) for t in self.truth_list if source in (None, t["source"])]

    # -- sessions and tokens (real time) -----------------------------------------------
    def new_session(self, source: str) -> Session:
        """A fresh session for `source`, living the source's `session_ttl` real seconds."""
        with self.lock:
            sid = f"{self.misc_rng.getrandbits(128):032x}"
            s = Session(sid, source, time.time() + self.faults[source].session_ttl,
                        csrf=f"{self.misc_rng.getrandbits(128):032x}")
            self.sessions[sid] = s
            return s

    def session(self, source: str, sid: str | None) -> Session | None:
        """The live session `sid` of `source`, or None (an expired one is dropped)."""
        with self.lock:
            s = self.sessions.get(sid or "")
            if s is None or s.source != source:
                return None
            if time.time() > s.expires:
                del self.sessions[s.sid]
                return None
            return s

    def issue_sms_code(self, mobile: str) -> str:
        """A new one-time login code "sent" to `mobile` (read it at /__admin/sms-code)."""
        with self.lock:
            code = f"{self.misc_rng.randrange(0, 1_000_000):06d}"
            self.sms_code = {"code": code, "issued_at": datetime.now(SHANGHAI).isoformat(timespec="seconds"),
                             "mobile": mobile[:3] + "****" + mobile[-4:], "_real": time.time()}
            return code

    def set_faults(self, source: str, **kw: Any) -> Faults:
        """Change some fault settings of `source`; returns them all."""
        with self.lock:
            merged = self.faults[source].model_dump() | kw
            self.faults[source] = Faults(**merged)
            return self.faults[source]

"""`SimulatedSystem`: everything the shared sandbox code needs to know about one simulated source.

Each module `sandbox/systems/<key>.py` declares `SYSTEM = SimulatedSystem(...)`
next to its HTTP routes; `sandbox.systems.SYSTEMS` collects them. The
generator, the state, the faults and the server read these fields and call
these hooks instead of naming a system.

The hooks only see a record, the `Store` (what the routes see too) and the
random stream they are handed: a system module never imports the state or the
generator, so the shared modules may import the registry without a cycle.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from sandbox.channels import Matter, RecordKeys, Style
from sandbox.store import Rec, Store, touch_record

#: `(rng, matter, at, seq, style) -> (external_id, payload)`: one complaint in the system's record shape
Renderer = Callable[[random.Random, Matter, datetime, int, Style], tuple[str, dict[str, Any]]]
#: `(at, seq, mobile, content, reply_to_out_id) -> (external_id, payload)`: a customer's short text message
MessageRenderer = Callable[[datetime, int, str, str, str | None], tuple[str, dict[str, Any]]]
#: `(rec, roll, rng, now) -> "withdrawn" | "status" | "supplement" | None`: a change made at the source
UpdateRule = Callable[[Rec, float, random.Random, datetime], str | None]
#: `(store, data) -> None`: a scheduled event of the system's own kind (see `Store.schedule`)
EventHandler = Callable[[Store, dict[str, Any]], None]

EDGES = frozenset({"emoji", "long", "fullwidth"})  # the edge cases a channel may or may not carry ("html": all do)


def exact(at: datetime) -> datetime:
    """The default clock of a system: it keeps change times as they are."""
    return at


@dataclass(frozen=True, eq=False)
class SimulatedSystem:
    """One simulated source system: its data, its app and its behaviours.

    `order` sets the place in `SYSTEMS` and so the port (`port + index`) and
    the generator's draws: never change the relative order of existing
    systems, or every seed changes. Fields and hooks are documented one by one.
    """

    key: str
    order: int
    html: bool  # a portal: HTML pages (fault error pages too), malformed ids/contents shown empty
    session_ttl: float  # default real seconds a portal session / API token lives (fault `session_ttl`)
    mix: float  # share of ordinary arrivals on this channel
    credentials: dict[str, str]  # the published demo credentials (sandbox.CREDENTIALS[key])
    keys: RecordKeys  # which payload keys a malformed record breaks
    render: Renderer
    create_app: Callable[[Store], FastAPI]  # the system's own routes (the server adds admin and faults)
    # A mass-fault burst: weight of this channel, and its place in the draw (an order apart from `order`,
    # kept as the burst was first tuned: the draw's outcome depends on it).
    burst_mix: float = 0.0
    burst_rank: int = 0
    edges: frozenset[str] = frozenset()  # which of EDGES the channel's texts can carry
    stamp: Callable[[datetime], datetime] = exact  # the change time the system keeps (app: whole minutes)
    touch: Callable[[Rec, datetime], None] = touch_record  # how a record shows it changed at `at`
    on_status: Callable[[Rec, str, datetime], None] | None = None  # side effect of a status change (a timeline)
    handling_status: str | None = None  # status of the fifth of the backlog already being handled at start
    after_backlog: Callable[[list[Rec], datetime], None] | None = None  # `(records, start)`: past events at start
    update_weight: int = 0  # relative chance that a source-side update happens here
    source_update: UpdateRule | None = None  # `roll` is a uniform draw taken for the rule before it runs
    message: MessageRenderer | None = None  # the channel also carries survey answers and unsubscribes
    stray_share: float = 0.0  # share of arrivals here that are such messages, not complaints
    events: Mapping[str, EventHandler] = field(default_factory=dict)  # event kind -> handler
    issues_tokens: bool = False  # bearer tokens in `Store.tokens` belong to this system (expire-sessions)

    def __post_init__(self) -> None:
        if not EDGES >= self.edges:
            raise ValueError(f"{self.key}: unknown edge cases {sorted(self.edges - EDGES)}")
        if self.update_weight and self.source_update is None:
            raise ValueError(f"{self.key}: update_weight without a source_update rule")
        if self.stray_share and self.message is None:
            raise ValueError(f"{self.key}: stray_share without a message renderer")

    def set_status(self, rec: Rec, status: str, at: datetime) -> None:
        """Move a record to `status` at `at`, with the system's side effects, and show the change."""
        rec.payload["status"] = status
        if self.on_status is not None:
            self.on_status(rec, status, at)
        self.touch(rec, at)

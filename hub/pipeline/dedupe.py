"""Duplicates and repeats: the same customer with a similar matter shares one case.

Blocking, not an O(n²) scan: candidates are the tickets of the *same customer*
(phone hash via `ix_tickets_phone_history`, or ID hash) received within a window
(`config/dedupe.yaml`, default 7 days), at most `max_candidates` (the most recent) per
customer key, fetched by index (`hub.store.recent`). Within such a small group, texts are
compared by MinHash signatures of character n-gram shingles, LSH banding picks
candidate pairs, and the estimated overlap coefficient decides. A case's
primary is its earliest ticket; `judgement.repeat_count` is a ticket's position
in its case (0 for the primary); `case_link` says which ticket it matched and
with what score. Stored tickets are patched in place (`set_case_fields`) with a `linked` event.
A ticket's signature, topics and amounts (`hub.pipeline.matter`) are computed once — the first
time it is compared — and stored encrypted in `ticket_signatures` (valid for its raw record and
this configuration), so a batch never re-reads and re-describes its customers' history.
The settings are `config/dedupe.yaml` (`hub.pipeline.dedupe_config`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection

from core.schema import CaseLink, Ticket, TicketEvent, utcnow
from hub.pipeline.dedupe_config import DedupeConfig, load_config
from hub.pipeline.matter import _Doc, describe_groups, text_overlap
from hub.store.recent import recent_rows
from hub.store.tables import tickets as tickets_t
from hub.store.tickets import get_ticket_data, set_case_fields


def _score(a: _Doc, b: _Doc, cfg: DedupeConfig) -> tuple[float, str]:
    """Similarity of two matters of one customer, and which signal decided it."""
    score, why = text_overlap(a, b), "text"
    if cfg.amount_score > score and a.amounts & b.amounts:
        score, why = cfg.amount_score, f"same amount {min(a.amounts & b.amounts)}"
    shared = a.topics & b.topics
    hours = abs((a.received_at - b.received_at).total_seconds()) / 3600
    if shared and hours <= cfg.close_hours and cfg.topic_score > score:
        score, why = cfg.topic_score, f"same topic {min(shared)} within {cfg.close_hours:g}h"
    if a.topics and b.topics and not shared:
        score *= cfg.disjoint_topic_factor
    return score, why


# --- linking -------------------------------------------------------------------------------


@dataclass
class LinkStats:
    """What one `link_cases` call did, plus the `linked` events the caller must still write."""

    linked: int = 0  # tickets whose case changed
    cases: int = 0  # clusters touched
    #: `linked` events of batch tickets not stored yet: add them once the tickets are inserted
    pending_events: list[TicketEvent] = field(default_factory=list)


def link_cases(conn: Connection, batch: list[Ticket], cfg: DedupeConfig | None = None,
               now: datetime | None = None, *, caller_saves: bool = False) -> LinkStats:
    """Link a batch of tickets into cases with earlier/later tickets of the same customer.

    Batch tickets that are not stored yet — or all batch tickets with
    `caller_saves` (enrichment saves its batch afterwards) — get their case fields
    set in memory, their `linked` events in `pending_events` for the caller to
    write; other stored tickets whose case changes are patched with
    `set_case_fields` and a `linked` event.
    """
    cfg = cfg or load_config()
    stats = LinkStats()
    mine = {t.ticket_id: t for t in batch if any(getattr(t.customer, k) for k in cfg.match_on)}
    if not mine:
        return stats
    lo = min(t.received_at for t in mine.values()) - cfg.window
    hi = max(t.received_at for t in mine.values()) + cfg.window
    names = ["ticket_id", "source", "received_at", "case_id", "repeat_count", "is_primary", "phone_hash", "id_hash",
             "raw_hash"]
    cols = [getattr(tickets_t.c, n) for n in names]
    rows: dict[str, Any] = {}
    for key in cfg.match_on:
        values = {getattr(t.customer, key) for t in mine.values() if getattr(t.customer, key)}
        for r in recent_rows(conn, getattr(tickets_t.c, key), values, cols, lo, hi, cfg.max_candidates):
            rows[r.ticket_id] = r
    # group by customer (phone or ID hash joins groups: union-find over keys)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    docs: dict[str, _Doc] = {}
    key_at = [names.index(k) for k in cfg.match_on]  # rows read by position: named access costs µs a row
    for r in rows.values():
        tid, source, received, case, repeats, primary, *_, raw = r
        keys = tuple(f"{k}:{r[i]}" for k, i in zip(cfg.match_on, key_at, strict=True) if r[i])
        docs[tid] = _Doc(tid, source, received, case, primary, repeats, keys, raw_hash=raw)
    unstored = set(mine) if caller_saves else {tid for tid in mine if tid not in rows}
    for tid in unstored:
        new = mine[tid]
        keys = tuple(f"{k}:{getattr(new.customer, k)}" for k in cfg.match_on if getattr(new.customer, k))
        docs[tid] = _Doc(tid, new.source, new.received_at, new.case_id, new.case_link is None
                         or new.case_link.primary_ticket_id == tid, new.judgement.repeat_count, keys,
                         raw_hash=new.raw_hash)
    for d in docs.values():
        keys = d.keys
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
    groups: dict[str, list[_Doc]] = defaultdict(list)
    for d in docs.values():
        if d.keys:
            groups[find(d.keys[0])].append(d)
    groups = {g: ds for g, ds in groups.items() if len(ds) > 1 and any(d.ticket_id in mine for d in ds)}
    if not groups:
        return stats
    # matters: signatures from the process cache or the store (`ticket_signatures`, written the first
    # time a ticket is described); a ticket without one is described from memory or its stored text
    describe_groups(conn, groups, mine, cfg)
    rows_per_band = cfg.num_perm // cfg.bands
    plans: dict[str, tuple[str, CaseLink, int]] = {}
    for ds in groups.values():
        _plan_group(ds, cfg, rows_per_band, plans, set(mine))
    if not plans:
        return stats
    # apply: only tickets whose case, primary or repeat count actually change
    current = {d.ticket_id: d for ds in groups.values() for d in ds}
    changed = [tid for tid, (cid, link, rep) in plans.items()
               if current[tid].case_id != cid or current[tid].repeat_count != rep
               or current[tid].is_primary != (link.primary_ticket_id == tid)]
    # batch tickets not stored yet are changed in memory (the insert writes them); stored ones are
    # patched in place from their JSON (no decrypt, no full Ticket round trip, one bulk write)
    stored_data = get_ticket_data(conn, [tid for tid in changed if tid not in unstored])
    patches: list[tuple[str, str, dict[str, Any], int, dict[str, Any]]] = []
    out: list[str] = []
    events: list[TicketEvent] = []
    at = now or utcnow()
    for tid in changed:
        cid, link, rep = plans[tid]
        t = mine.get(tid) if tid in unstored else None
        if t is not None:
            old_link = t.case_link.model_dump(mode="json") if t.case_link else None
            old = (t.case_id, old_link["primary_ticket_id"] if old_link else None, t.judgement.repeat_count)
        else:
            data = stored_data.get(tid)
            if data is None:
                continue
            old_link = data.get("case_link")
            old = (data.get("case_id"), old_link["primary_ticket_id"] if old_link else None,
                   (data.get("judgement") or {}).get("repeat_count", 0))
        if old == (cid, link.primary_ticket_id, rep):
            continue
        if (old_link and old_link["case_id"] == cid and old_link.get("linked_to") and link.linked_to
                and link.score is None):
            # only its rank/primary moved: keep the evidence it was linked on
            link = link.model_copy(update={"linked_to": old_link["linked_to"], "score": old_link.get("score"),
                                           "reason": old_link["reason"]})
        if t is not None:
            t.case_id, t.case_link = cid, link
            t.judgement.repeat_count = rep
        else:
            patches.append((tid, cid, link.model_dump(mode="json"), rep, stored_data[tid]))
        out.append(tid)
        events.append(TicketEvent(ticket_id=tid, at=at, actor="hub", kind="linked",
                                  data={"case_id": cid, "primary": link.primary_ticket_id,
                                        "linked_to": link.linked_to, "score": link.score,
                                        "reason": link.reason, "repeat_count": rep}))
    if patches:
        set_case_fields(conn, patches, [e for e in events if e.ticket_id not in unstored])
    stats.pending_events = [e for e in events if e.ticket_id in unstored]
    stats.linked = len(out)
    stats.cases = len({plans[tid][0] for tid in out})
    return stats


#: a customer with more tickets than this in the window is compared in numpy (`_scored_pairs`)
VECTOR_FROM = 48


def _candidate_pairs(ds: list[_Doc], cfg: DedupeConfig, rows_per_band: int, fresh: set[str]) -> set[tuple[int, int]]:
    """Index pairs (a < b, at least one a batch ticket) that share an LSH band, a topic or an amount.

    A large group (a customer who complains a lot) goes through `_scored_pairs`, which also drops
    pairs that cannot reach the threshold; the caller scores what is left either way.
    """
    if len(ds) > VECTOR_FROM:
        return _scored_pairs(ds, cfg, rows_per_band, fresh)
    width = rows_per_band * 8  # bytes per band of a uint64 signature
    keys_of: list[list[tuple[int, bytes | str]]] = []
    at_fresh: dict[tuple[int, bytes | str], list[int]] = defaultdict(list)  # blocking key → batch tickets
    for i, d in enumerate(ds):
        assert d.sig is not None
        raw = d.sig.tobytes()  # slicing bytes once per doc: the same keys, far cheaper than numpy slices
        keys: list[tuple[int, bytes | str]] = [(b, raw[b * width:(b + 1) * width]) for b in range(cfg.bands)]
        # the other two signals are blocking keys as well (still only within one customer)
        keys += [(-1, topic) for topic in d.topics]
        keys += [(-2, amount) for amount in d.amounts]
        keys_of.append(keys)
        if d.ticket_id in fresh:
            for k in keys:
                at_fresh[k].append(i)
    # every ticket against the batch tickets that share a key with it: O(tickets × keys), not the
    # square of a bucket (a customer's 40 tickets that all name the same topic)
    pairs: set[tuple[int, int]] = set()
    for i, keys in enumerate(keys_of):
        for k in keys:
            for f in at_fresh.get(k, ()):
                if f != i:
                    pairs.add((i, f) if i < f else (f, i))
    return pairs


def _scored_pairs(ds: list[_Doc], cfg: DedupeConfig, rows_per_band: int, fresh: set[str]) -> set[tuple[int, int]]:
    """`_candidate_pairs` of a large group, with the pairs `_score` would put below the threshold
    (or outside the window) left out: every batch ticket against every other ticket at once, in numpy.

    The same arithmetic as `text_overlap` and `_score` in float64, so the pairs kept are exactly those
    the per-pair path would link; the caller scores them again for the reason it explains.
    """
    m = len(ds)
    fresh_rows = np.array([i for i, d in enumerate(ds) if d.ticket_id in fresh], dtype=np.int64)
    sig = np.stack([d.sig if d.sig is not None else np.zeros(cfg.num_perm, np.uint64) for d in ds])
    size = np.array([d.size if d.sig is not None else 0 for d in ds], dtype=np.float64)
    topics = sorted({t for d in ds for t in d.topics})
    amounts = sorted({a for d in ds for a in d.amounts})
    tmat = np.array([[t in d.topics for t in topics] for d in ds], dtype=np.int64).reshape(m, len(topics))
    amat = np.array([[a in d.amounts for a in amounts] for d in ds], dtype=np.int64).reshape(m, len(amounts))
    has_topic: np.ndarray = np.asarray(tmat.any(axis=1))
    micros = np.array([(d.received_at - _EPOCH) // _MICRO for d in ds], dtype=np.int64)
    window = cfg.window // _MICRO
    out: set[tuple[int, int]] = set()
    step = max(1, _CELLS // (m * cfg.num_perm))  # batch tickets per block: memory stays bounded
    for lo in range(0, len(fresh_rows), step):
        rows = fresh_rows[lo:lo + step]
        same = sig[rows][:, None, :] == sig[None, :, :]  # batch ticket × ticket × permutation
        band = same.reshape(len(rows), m, cfg.bands, rows_per_band).all(axis=3).any(axis=2)
        shared_topic = (tmat[rows] @ tmat.T) > 0
        shared_amount = (amat[rows] @ amat.T) > 0
        cand = band | shared_topic | shared_amount
        cand[np.arange(len(rows)), rows] = False  # not with itself
        # text_overlap: estimated |A∩B| / min(|A|, |B|) from the MinHash Jaccard and the set sizes
        j = same.mean(axis=2)
        sa, sb = size[rows][:, None], size[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = np.minimum(1.0, (j * (sa + sb) / (1 + j)) / np.minimum(sa, sb))
        score = np.where((sa > 0) & (sb > 0), overlap, 0.0)
        score = np.where(shared_amount & (cfg.amount_score > score), cfg.amount_score, score)
        gap = np.abs(micros[rows][:, None] - micros[None, :])
        score = np.where(shared_topic & (gap / 1e6 / 3600 <= cfg.close_hours) & (cfg.topic_score > score),
                         cfg.topic_score, score)
        score = np.where(has_topic[rows][:, None] & has_topic[None, :] & ~shared_topic,
                         score * cfg.disjoint_topic_factor, score)
        fi, oj = np.nonzero(cand & (score >= cfg.threshold) & (gap <= window))
        a, b = rows[fi], oj
        out.update(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))
    return out


#: boolean cells of one block of `_scored_pairs` (batch tickets × tickets × permutations)
_CELLS = 4_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _plan_group(ds: list[_Doc], cfg: DedupeConfig, rows_per_band: int,
                plans: dict[str, tuple[str, CaseLink, int]], fresh: set[str]) -> None:
    """Cluster one customer's tickets by similar matter; plan case id, link and repeat count.

    Only pairs with a `fresh` (batch) ticket are scored: pairs of older tickets were
    scored when the later of them arrived, and their verdict lives on as a shared case_id.
    """
    ds.sort(key=lambda d: (d.received_at, d.ticket_id))
    parent = list(range(len(ds)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    best: dict[int, tuple[float, int, str]] = {}  # later ticket → (score, earlier ticket, why)
    # pairs in order (earlier, later): of equal scores, the earliest matching ticket is the one linked to
    for a, b in sorted(_candidate_pairs(ds, cfg, rows_per_band, fresh)):
        if abs(ds[b].received_at - ds[a].received_at) > cfg.window:
            continue
        s, why = _score(ds[a], ds[b], cfg)
        if s >= cfg.threshold:
            parent[find(b)] = find(a)
            if s > best.get(b, (-1.0, 0, ""))[0]:
                best[b] = (s, a, why)
    # tickets already in one case stay together
    by_case: dict[str, int] = {}
    for i, d in enumerate(ds):
        if d.case_id:
            if d.case_id in by_case:
                parent[find(i)] = find(by_case[d.case_id])
            else:
                by_case[d.case_id] = i
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(ds)):
        clusters[find(i)].append(i)
    for members in clusters.values():
        if len(members) < 2:
            continue
        members.sort()
        primary = ds[members[0]]
        existing = [cid for i in members if (cid := ds[i].case_id)]
        case_id = existing[0] if existing else "C" + primary.ticket_id[1:]
        for rank, i in enumerate(members):
            d = ds[i]
            if rank == 0:
                link = CaseLink(case_id=case_id, primary_ticket_id=primary.ticket_id, linked_to=None,
                                reason="earliest ticket of the case (primary)", score=None)
            else:
                score, j, why = best.get(i, (None, members[0], "already in the case"))
                other = ds[j]
                how = "cross-channel" if other.source != d.source else "repeat on the same channel"
                shared = [k.split(":")[0] for k in d.keys if k in other.keys] or ["case"]
                link = CaseLink(case_id=case_id, primary_ticket_id=primary.ticket_id, linked_to=other.ticket_id,
                                reason=f"same customer ({'/'.join(shared)}), similar matter ({why}), {how} "
                                       f"({other.source}→{d.source})",
                                score=round(score, 3) if score is not None else None)
            plans[d.ticket_id] = (case_id, link, rank)

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
A ticket's signature, topics and amounts are computed once — the first time it is compared —
and stored encrypted in `ticket_signatures` (valid for its raw record and this configuration),
so a batch never re-reads and re-describes its customers' history.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
import zlib
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, select

from core.configfile import cached_config
from core.errors import ConfigError
from core.pii import PiiVault, get_vault
from core.schema import CaseLink, Ticket, TicketEvent, utcnow
from core.settings import get_settings
from hub.store.recent import recent_rows
from hub.store.sql import chunks, upsert
from hub.store.tables import ticket_signatures
from hub.store.tables import tickets as tickets_t
from hub.store.tickets import get_ticket_data, set_case_fields, stored_matter


class DedupeConfig(BaseModel):
    """`config/dedupe.yaml`."""

    model_config = ConfigDict(extra="forbid")
    window_days: float = Field(default=7, gt=0)
    shingle: int = Field(default=2, ge=1, le=8)
    num_perm: int = Field(default=64, ge=8, le=512)
    bands: int = Field(default=32, ge=1)
    threshold: float = Field(default=0.5, gt=0, le=1)
    max_chars: int = Field(default=2000, ge=20)
    amount_score: float = Field(default=0.6, ge=0, le=1)
    topic_score: float = Field(default=0.6, ge=0, le=1)
    close_hours: float = Field(default=3, ge=0)
    disjoint_topic_factor: float = Field(default=0.5, ge=0, le=1)
    match_on: list[str] = Field(default_factory=lambda: ["phone_hash", "id_hash"])
    #: per customer key, only the most recent N tickets of the window are candidates (bounded work per batch)
    max_candidates: int = Field(default=200, ge=2)
    topics: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def window(self) -> timedelta:
        """How far apart in time a customer's tickets may be and still share a case."""
        return timedelta(days=self.window_days)


@cached_config
def _load_config(path: str, mtime: float) -> DedupeConfig:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        cfg = DedupeConfig.model_validate(doc)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {exc}".replace("\n", " ")) from exc
    if cfg.num_perm % cfg.bands:
        raise ConfigError(f"{path}: bands must divide num_perm")
    return cfg


def load_config(path: Path | None = None) -> DedupeConfig:
    """The dedupe settings (defaults when the file is absent)."""
    p = path or get_settings().config_dir / "dedupe.yaml"
    return _load_config(str(p), p.stat().st_mtime) if p.exists() else DedupeConfig()


# --- similarity ---------------------------------------------------------------------------

_KEEP = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_MERSENNE = np.uint64((1 << 61) - 1)


def normalise_text(text: str, max_chars: int = 2000) -> str:
    """NFKC, lower case, only CJK/letters/digits (punctuation, spaces, emoji dropped)."""
    return _KEEP.sub("", unicodedata.normalize("NFKC", text[: max_chars * 2]).lower())[:max_chars]


def shingles(text: str, n: int = 2) -> set[str]:
    """Character n-grams of a normalised text (the whole text when shorter than n)."""
    if len(text) <= n:
        return {text} if text else set()
    return {text[i:i + n] for i in range(len(text) - n + 1)}


class MinHasher:
    """MinHash signatures with fixed, seeded permutations (stable across processes)."""

    def __init__(self, num_perm: int = 64, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        # a, b < 2**29 and h < 2**32 keep a*h + b below 2**63: no overflow in uint64
        self.a = rng.integers(1, 1 << 29, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, 1 << 29, size=num_perm, dtype=np.uint64)

    def signature(self, grams: set[str]) -> np.ndarray:
        """The MinHash signature of a shingle set (one minimum per permutation)."""
        if not grams:
            return np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        # map() keeps the per-gram work in C (a generator costs a Python frame per gram)
        h = np.fromiter(map(zlib.crc32, map(str.encode, grams)), dtype=np.uint64, count=len(grams))
        return ((np.outer(self.a, h) + self.b[:, None]) % _MERSENNE).min(axis=1)


_NUMBER = re.compile(r"(?<![\d.])\d{2,}(?:\.\d+)?")


#: ticket id → (config key, raw hash, shingle count, signature bytes, topics, amounts): a ticket's matter
#: changes only with its raw record. Packed (the signature as bytes, not an ndarray; topic sets shared)
#: because a full cache is a worker's largest structure: ~1.4 → ~1.1 KB an entry.
_DESCRIPTORS: OrderedDict[str, tuple[Any, str, int, bytes, frozenset[str], frozenset[str]]] = OrderedDict()
_CACHE_MAX = 50_000
#: one frozenset object per distinct topic combination (there are few; bounded all the same)
_TOPIC_SETS: dict[frozenset[str], frozenset[str]] = {}


def forget_descriptors() -> None:
    """Empty this process's descriptor cache (a benchmark's rounds each start as a fresh worker)."""
    _DESCRIPTORS.clear()


@dataclass
class _Doc:
    ticket_id: str
    source: str
    received_at: datetime
    case_id: str | None
    is_primary: bool
    repeat_count: int
    keys: tuple[str, ...]
    raw_hash: str | None = None
    size: int = 0  # shingle count
    sig: np.ndarray | None = None
    topics: frozenset[str] = frozenset()
    amounts: frozenset[str] = frozenset()

    def load(self, ckey: Any) -> bool:
        """Take this doc's matter from the process cache when it is there for its raw record and `ckey`."""
        hit = _DESCRIPTORS.get(self.ticket_id)
        if hit is None or self.raw_hash is None or hit[0] != ckey or hit[1] != self.raw_hash:
            return False
        # a read-only view of the cached bytes: signatures are only compared, stacked and copied
        self.size, self.sig, self.topics, self.amounts = hit[2], np.frombuffer(hit[3], dtype=np.uint64), hit[4], hit[5]
        return True

    def save(self, ckey: Any) -> None:
        """Keep this doc's matter in the process cache (oldest entries leave first)."""
        if self.raw_hash is None or self.sig is None:
            return
        hit = _DESCRIPTORS.get(self.ticket_id)
        if hit is not None and hit[0] == ckey and hit[1] == self.raw_hash:
            return  # cached already (it keeps its place: the cache is first in, first out)
        topics = self.topics
        if topics:
            topics = _TOPIC_SETS.setdefault(topics, topics) if len(_TOPIC_SETS) < 4096 else topics
        _DESCRIPTORS[self.ticket_id] = (ckey, self.raw_hash, self.size, self.sig.tobytes(), topics, self.amounts)
        while len(_DESCRIPTORS) > _CACHE_MAX:
            _DESCRIPTORS.popitem(last=False)

    def describe(self, text: str, amount: Any, cfg: DedupeConfig, hasher: MinHasher) -> None:
        """Signature, topics and amounts of this ticket's matter."""
        grams = shingles(normalise_text(text, cfg.max_chars), cfg.shingle)
        self.size, self.sig = len(grams), hasher.signature(grams)
        self.topics = frozenset(k for k, rx in _topic_patterns(cfg) if rx.search(text))
        nums = {_canon(n) for n in _NUMBER.findall(unicodedata.normalize("NFKC", text))}
        if amount not in (None, ""):
            nums.add(_canon(str(amount)))
        self.amounts = frozenset(n for n in nums if n)


def _topic_patterns(cfg: DedupeConfig) -> list[tuple[str, re.Pattern[str]]]:
    """One compiled alternation per topic: a topic matches when any of its words occurs."""
    hit = _TOPIC_RX.get(id(cfg))
    if hit is None or hit[0] is not cfg:
        hit = (cfg, [(k, re.compile("|".join(map(re.escape, words)))) for k, words in cfg.topics.items() if words])
        _TOPIC_RX[id(cfg)] = hit
    return hit[1]


_TOPIC_RX: dict[int, tuple[DedupeConfig, list[tuple[str, re.Pattern[str]]]]] = {}


def _canon(n: str) -> str:
    try:
        return f"{float(n):.2f}"
    except ValueError:
        return ""


def text_overlap(a: _Doc, b: _Doc) -> float:
    """Estimated overlap coefficient |A∩B|/min(|A|,|B|) from MinHash Jaccard and set sizes.

    Jaccard alone punishes a short SMS against a long transcript of the same matter.
    """
    if a.sig is None or b.sig is None or not a.size or not b.size:
        return 0.0
    j = float(np.mean(a.sig == b.sig))
    inter = j * (a.size + b.size) / (1 + j)
    return min(1.0, inter / min(a.size, b.size))


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


def _text_of(matter: dict[str, Any] | Any) -> str:
    if isinstance(matter, dict):
        return f"{matter.get('title') or ''} {matter.get('content') or ''}"
    return f"{matter.title} {matter.content}"


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
    _describe_groups(conn, groups, mine, cfg)
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


def _describe_groups(conn: Connection, groups: dict[str, list[_Doc]], mine: dict[str, Ticket],
                     cfg: DedupeConfig) -> None:
    """Give every doc of the groups its signature, topics and amounts; store the new ones."""
    hasher = _hasher(cfg.num_perm)
    ckey = (cfg.shingle, cfg.num_perm, cfg.max_chars, id(cfg))
    docs = [d for ds in groups.values() for d in ds]
    for d in docs:  # a batch ticket's raw hash is the one in memory (a source update changes it)
        if d.ticket_id in mine:
            d.raw_hash = mine[d.ticket_id].raw_hash
    todo = [d for d in docs if not d.load(ckey)]
    vault = get_vault()
    todo = load_signatures(conn, todo, cfg, vault)
    for d in todo:
        if d.ticket_id in mine:
            matter = mine[d.ticket_id].matter
            d.describe(_text_of(matter), matter.amount, cfg, hasher)
    by_id = {d.ticket_id: d for d in todo if d.ticket_id not in mine}
    for part in chunks(list(by_id), 500):
        for r in conn.execute(select(tickets_t.c.ticket_id, tickets_t.c.data, tickets_t.c.pii_enc)
                              .where(tickets_t.c.ticket_id.in_(part))):
            m = stored_matter(r.data or {}, r.pii_enc, vault)  # free text is stored encrypted
            by_id[r.ticket_id].describe(_text_of(m), m.get("amount"), cfg, hasher)
    for d in docs:
        d.save(ckey)
    save_signatures(conn, [d for d in todo if d.sig is not None], cfg, vault)


def config_key(cfg: DedupeConfig) -> str:
    """What a stored signature depends on (shingles, permutations, length, topics), as a short digest."""
    doc = json.dumps([cfg.shingle, cfg.num_perm, cfg.max_chars, cfg.topics], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def load_signatures(conn: Connection, docs: list[_Doc], cfg: DedupeConfig, vault: PiiVault) -> list[_Doc]:
    """Fill docs from `ticket_signatures` where the stored one fits (same raw record and config); the rest."""
    want = {d.ticket_id: d for d in docs if d.raw_hash is not None}
    if not want:
        return docs
    st, ck, found = ticket_signatures.c, config_key(cfg), set()
    for part in chunks(list(want), 500):
        for tid, raw_hash, size, descriptor in conn.execute(
                select(st.ticket_id, st.raw_hash, st.size, st.descriptor)
                .where(st.ticket_id.in_(part), st.config_key == ck)).all():
            d = want[tid]
            if raw_hash != d.raw_hash:
                continue
            blob = vault.decrypt_bytes(descriptor)
            width = 8 * cfg.num_perm
            d.size, d.sig = size, np.frombuffer(blob[:width], dtype="<u8").astype(np.uint64)
            topics, _, amounts = blob[width:].decode().partition("\x1f")
            d.topics, d.amounts = frozenset(topics.split()), frozenset(amounts.split())
            found.add(d.ticket_id)
    return [d for d in docs if d.ticket_id not in found]


def _packed(d: _Doc) -> bytes:
    """A doc's descriptor as bytes: the signature (uint64 little-endian), then topics and amounts."""
    assert d.sig is not None
    return (d.sig.astype("<u8").tobytes() + " ".join(sorted(d.topics)).encode() + b"\x1f"
            + " ".join(sorted(d.amounts)).encode())


def save_signatures(conn: Connection, docs: list[_Doc], cfg: DedupeConfig, vault: PiiVault) -> None:
    """Store these docs' signatures (replacing an outdated one); docs without a raw hash are skipped."""
    # in ticket order: two workers storing overlapping signatures lock rows in the same order
    keep = sorted((d for d in docs if d.raw_hash is not None and d.sig is not None), key=lambda d: d.ticket_id)
    if not keep:
        return
    ck = config_key(cfg)
    blobs = vault.encrypt_many([_packed(d) for d in keep])
    rows = [{"ticket_id": d.ticket_id, "raw_hash": d.raw_hash, "config_key": ck, "size": d.size, "descriptor": b}
            for d, b in zip(keep, blobs, strict=True)]
    conn.execute(upsert(conn, ticket_signatures, ["ticket_id"], ["raw_hash", "config_key", "size", "descriptor"]),
                 rows)


@functools.cache
def _hasher(num_perm: int) -> MinHasher:
    return MinHasher(num_perm)


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

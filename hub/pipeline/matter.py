"""A ticket's matter as case linking compares it: a MinHash signature of its text, its topics and amounts.

A descriptor depends only on the ticket's raw record and the linking configuration, so it is
computed once — the first time the ticket is compared — and kept twice: in this process's
cache (first in, first out) and encrypted in `ticket_signatures`, where the next worker finds
it. `describe_groups` fills a customer group's docs from the cache, then the store, and
describes only the rest (from memory, or from the ticket's stored, encrypted text).
`hub.pipeline.dedupe` links cases over them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from core.pii import PiiVault, get_vault
from core.schema import Ticket
from hub.pipeline.dedupe_config import DedupeConfig
from hub.store.sql import chunks, upsert
from hub.store.tables import ticket_signatures
from hub.store.tables import tickets as tickets_t
from hub.store.tickets import stored_matter

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
#: changes only with its raw record. Packed (the signature as bytes, not an ndarray) because a full
#: cache is a worker's largest structure: ~1.4 → ~1.1 KB an entry.
_DESCRIPTORS: OrderedDict[str, tuple[Any, str, int, bytes, frozenset[str], frozenset[str]]] = OrderedDict()
_CACHE_MAX = 50_000


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
        _DESCRIPTORS[self.ticket_id] = (ckey, self.raw_hash, self.size, self.sig.tobytes(), self.topics, self.amounts)
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


def _text_of(matter: dict[str, Any] | Any) -> str:
    """The text a matter is compared on: its title and content (a stored dict or a `Matter`)."""
    if isinstance(matter, dict):
        return f"{matter.get('title') or ''} {matter.get('content') or ''}"
    return f"{matter.title} {matter.content}"


def describe_groups(conn: Connection, groups: dict[str, list[_Doc]], mine: dict[str, Ticket],
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

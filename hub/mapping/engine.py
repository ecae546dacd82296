"""Compiled mappings: a raw record in, a Ticket (or a non-complaint kind, or a failure) out.

Each YAML file is validated and compiled once into a list of (target, getter,
transform chain) steps; mapping a record is then plain function calls — no
YAML, no path parsing, no registry look-ups per record. Nothing here raises for
bad data: a failure is returned (field path + message) for the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from core.pii import PiiVault, get_vault, scrub_text
from core.schema import MessageKind, RawRecord, Source, Ticket, make_ticket_id, utcnow
from hub.judge.intents import detect_sms_intent
from hub.mapping.rows import fresh_row
from hub.mapping.spec import MappingSpec, compile_path
from hub.mapping.transforms import TransformError, build_chain, id_birth_date


@dataclass(slots=True)
class MappingFailure:
    """Why a record could not be mapped: the field (target ← source path) and a reason."""

    field: str
    message: str


@dataclass(slots=True)
class MapOutcome:
    """Result of mapping one raw record: a ticket (or its row), a failure, or a non-complaint kind."""

    kind: MessageKind = MessageKind.COMPLAINT
    ticket: Ticket | None = None
    failure: MappingFailure | None = None
    unknown_fields: tuple[str, ...] = ()
    mapping_version: str | None = None
    #: `map_row` only: the new ticket's `tickets` row (no `pii_enc` yet) and its PII as plain JSON
    row: dict[str, Any] | None = None
    pii: bytes | None = None

    @property
    def ok(self) -> bool:
        """Whether the record mapped without a failure."""
        return self.failure is None


@dataclass(slots=True)
class _Step:
    target: str
    label: str  # "target ← path" for reasons
    getters: list[Callable[[Any], Any]]
    chain: Callable[[Any], Any]
    default: Any
    required: bool
    const: Any


_SECTIONS = ("customer", "matter", "handling")


class CompiledMapping:
    """One source's mapping, compiled. `map(raw)` never raises for bad data."""

    def __init__(self, spec: MappingSpec, content_hash: str, path: str = ""):
        self.spec = spec
        self.source = spec.source
        self.path = path
        self.version = f"{spec.source}@{spec.version}+{content_hash[:8]}"
        self.known = frozenset(spec.known_keys())
        self._ext = compile_path(spec.external_id)
        self._steps = [self._compile_field(t, f) for t, f in spec.fields.items()]
        # the steps as flat tuples, the target split once: the per-record loop unpacks, never looks up
        self._plan = [(*st.target.partition(".")[::2], st.label, tuple(st.getters), st.chain, st.default,
                       st.required, st.const) for st in self._steps]
        self._intent = compile_path(spec.intent.path) if spec.intent else None
        self._hint = compile_path(spec.intent.hint) if spec.intent and spec.intent.hint else None
        self._elderly_age = spec.elderly_age

    @staticmethod
    def _compile_field(target: str, f: Any) -> _Step:
        label = f"{target} ← {'|'.join(f.paths)}" if f.paths else target
        return _Step(target=target, label=label, getters=[compile_path(p) for p in f.paths],
                     chain=build_chain(f.transforms), default=f.default, required=f.required, const=f.value)

    def unknown_fields(self, payload: dict[str, Any]) -> tuple[str, ...]:
        """Top-level payload keys the mapping does not know (reported, kept in the raw record)."""
        if self.known.issuperset(payload):
            return ()
        return tuple(sorted(k for k in payload if k not in self.known and not k.startswith("_")))

    def kind_of(self, payload: dict[str, Any]) -> MessageKind:
        """Complaint, survey reply or unsubscribe (only for mappings with an `intent`)."""
        if self._intent is None:
            return MessageKind.COMPLAINT
        if self._hint is not None:
            hint = self._hint(payload)
            if isinstance(hint, str) and hint in MessageKind._value2member_map_:
                return MessageKind(hint)
        text = self._intent(payload)
        return detect_sms_intent(text) if isinstance(text, str) else MessageKind.COMPLAINT

    def map(self, raw: RawRecord, vault: PiiVault | None = None) -> MapOutcome:
        """Map one raw record to a `Ticket`; failures come back as `MapOutcome.failure`, never raised."""
        out, doc = self._map_doc(raw, vault)
        if doc is not None:
            self._validate(out, doc)
        return out

    def map_row(self, raw: RawRecord, vault: PiiVault | None = None, now: datetime | None = None) -> MapOutcome:
        """Map one raw record for ingest: the new ticket's row (`out.row`, `out.pii`) when the
        mapped values are plainly typed, else a validated `Ticket` as `map()` gives."""
        out, doc = self._map_doc(raw, vault)
        if doc is None:
            return out
        fast = fresh_row(doc, now or utcnow())
        if fast is None:
            self._validate(out, doc)
        else:
            out.row, out.pii = fast
        return out

    def _map_doc(self, raw: RawRecord, vault: PiiVault | None) -> tuple[MapOutcome, dict[str, Any] | None]:
        """The outcome so far and, for a complaint that mapped, the document a Ticket is made of."""
        payload = raw.payload
        out = MapOutcome(mapping_version=self.version)
        if not isinstance(payload, dict):
            out.failure = MappingFailure("payload", "payload is not an object")
            return out, None
        try:
            out.unknown_fields = self.unknown_fields(payload)
            ext = self._ext(payload)
            if ext is None or (isinstance(ext, str) and not ext.strip()):
                # the connector named the record, but the source's own id is absent: malformed
                out.failure = MappingFailure(f"external_id ← {self.spec.external_id}",
                                             "required id is missing or empty")
                return out, None
            kind = self.kind_of(payload)
        except TransformError as exc:
            out.failure = MappingFailure("intent", scrub_text(str(exc)))
            return out, None
        if kind is not MessageKind.COMPLAINT:
            out.kind = kind
            return out, None
        doc: dict[str, Any] = {"customer": {}, "matter": {}, "handling": {}}
        for head, tail, label, getters, chain, default, required, const in self._plan:
            try:
                v = const
                for g in getters:
                    v = g(payload)
                    if not (v is None or v == "" or (v.__class__ is list and not v)):
                        break
                v = chain(v)
            except TransformError as exc:
                out.failure = MappingFailure(label, scrub_text(str(exc)))
                return out, None
            except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
                # a builtin met a shape it was not written for: still one record's problem
                out.failure = MappingFailure(label, f"{type(exc).__name__}: {scrub_text(str(exc))[:200]}")
                return out, None
            if v is None or v == "" or (v.__class__ is list and not v):
                if required:
                    out.failure = MappingFailure(label, "required field is missing or empty")
                    return out, None
                v = default
            if v is not None:
                if tail:
                    doc[head][tail] = v
                else:
                    doc[head] = v
        try:
            return out, self._doc(raw, doc, vault or get_vault())
        except TransformError as exc:
            out.failure = MappingFailure("ticket", scrub_text(str(exc)))
            return out, None

    @staticmethod
    def _validate(out: MapOutcome, doc: dict[str, Any]) -> None:
        try:
            out.ticket = Ticket.model_validate(doc)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            out.failure = MappingFailure(loc, scrub_text(err["msg"]))

    def _doc(self, raw: RawRecord, doc: dict[str, Any], vault: PiiVault) -> dict[str, Any]:
        """The Ticket document: mapped values plus hashes, the elderly flag and a default title."""
        cust = doc["customer"]
        age = cust.pop("age", None)
        received: datetime = doc["received_at"]
        if not isinstance(received, datetime):
            raise TransformError("received_at is not a date (add a datetime transform)")
        if phone := cust.get("phone"):
            cust["phone_hash"] = vault.hash(phone)
        if idn := cust.get("id_number"):
            cust["id_hash"] = vault.hash(idn)
        if not cust.get("elderly"):
            cust["elderly"] = self._elderly(idn, age, received)
        m = doc["matter"]
        if not m.get("title"):
            m["title"] = (m.get("content") or "")[:30]
        doc.update(ticket_id=make_ticket_id(self.source, raw.external_id), source=self.source,
                   external_id=raw.external_id, mapping_version=self.version, raw_hash=raw.payload_hash)
        return doc

    def _elderly(self, id_number: str | None, age: Any, received: datetime) -> bool:
        if id_number and (born := id_birth_date(id_number)) is not None:
            years = received.year - born.year - ((received.month, received.day) < (born.month, born.day))
            return years >= self._elderly_age
        if age is not None:
            try:
                return int(age) >= self._elderly_age
            except (TypeError, ValueError) as exc:
                raise TransformError(f"customer.age is not a number: {age!r}") from exc
        return False


@dataclass
class MappingSet:
    """All loaded mappings, by source."""

    mappings: dict[Source, CompiledMapping] = field(default_factory=dict)

    def get(self, source: Source | str) -> CompiledMapping | None:
        """The compiled mapping of a source, or None when it has none."""
        return self.mappings.get(Source(source))

    def version(self, source: Source | str) -> str | None:
        """The version of a source's mapping (`source@version+hash`), or None."""
        m = self.get(source)
        return m.version if m else None

    def map(self, raw: RawRecord, vault: PiiVault | None = None) -> MapOutcome:
        """Map with the record's source mapping (a missing mapping is a failure, not an error)."""
        m = self.mappings.get(raw.source)
        if m is None:
            return MapOutcome(failure=MappingFailure("source", f"no mapping for source {raw.source}"))
        return m.map(raw, vault)

    def map_row(self, raw: RawRecord, vault: PiiVault | None = None, now: datetime | None = None) -> MapOutcome:
        """`CompiledMapping.map_row` with the record's source mapping."""
        m = self.mappings.get(raw.source)
        if m is None:
            return MapOutcome(failure=MappingFailure("source", f"no mapping for source {raw.source}"))
        return m.map_row(raw, vault, now)

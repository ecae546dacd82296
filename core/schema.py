"""The unified shapes every part of the hub agrees on (pydantic v2).

Raw record → Ticket (with Customer, Matter, Judgement, Handling, Clocks) →
TicketEvent (timeline) → StatusUpdate (what goes back to a source) → PushReceipt.
Times are tz-aware and normalised to UTC; `to_local()` shows Asia/Shanghai.
Amounts are `Decimal` CNY. Personal data uses the masking types of `core.pii`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    SerializationInfo,
    field_serializer,
    field_validator,
)
from pydantic_core import CoreSchema, core_schema

from core.jsonutil import canonical
from core.pii import IdNumber, PersonName, Phone, scrub_text

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Now, tz-aware UTC (the only clock domain code should read)."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive input is taken as Asia/Shanghai."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


def to_local(value: datetime) -> datetime:
    """Show a stored UTC time in Asia/Shanghai."""
    return to_utc(value).astimezone(SHANGHAI)


class Source(str):
    """A source system's key (`app`, `gov12315`, …): a lower-case slug, validated, compared as text.

    Which sources exist is not the schema's business: each connector declares its key
    (`connectors.base.Connector.key`) and `connectors.registry` knows the configured ones,
    so a new source needs no edit here.
    """

    __slots__ = ()
    PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")

    def __new__(cls, value: str) -> Source:
        if isinstance(value, Source):
            return value
        if not isinstance(value, str) or not cls.PATTERN.match(value):
            raise ValueError(f"not a source key (lower-case letters, digits, _): {str(value)[:40]!r}")
        return super().__new__(cls, value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"))


class Category(StrEnum):
    """Top-level complaint category (taxonomy.yaml `categories`): product, service, info security."""

    PRODUCT = "product"
    SERVICE = "service"
    INFO_SECURITY = "info_security"


class Urgency(StrEnum):
    """How urgent a complaint is: urgent (funds or safety at risk), general, or a consultation."""

    URGENT = "urgent"
    GENERAL = "general"
    CONSULTATION = "consultation"


class RiskLevel(StrEnum):
    """Band of the 0-100 risk score (thresholds in taxonomy.yaml `risk.levels`)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Status(StrEnum):
    """A ticket's handling status; all but resolved and closed count as open."""

    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"

    @property
    def is_open(self) -> bool:
        """Whether the ticket still needs handling (neither resolved nor closed)."""
        return self not in (Status.RESOLVED, Status.CLOSED)


OPEN_STATUSES = tuple(s for s in Status if s.is_open)


class ClockKind(StrEnum):
    """Which SLA clock: first response, resolution, or revisit (回访, once resolved)."""

    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    REVISIT = "revisit"


class ClockState(StrEnum):
    """An SLA clock's state: running, paused (waiting on the customer), met or breached."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class EscalationTarget(StrEnum):
    """Where a customer threatens to take the complaint: a regulator, the media, legal action, the police."""

    REGULATOR = "regulator"
    MEDIA = "media"
    LAWSUIT = "lawsuit"
    POLICE = "police"


class MessageKind(StrEnum):
    """What an inbound record is: only complaints become tickets."""

    COMPLAINT = "complaint"
    SURVEY_REPLY = "survey_reply"
    UNSUBSCRIBE = "unsubscribe"


class HubModel(BaseModel):
    """Base of the hub's data models: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, use_enum_values=False)


# --- landing ---------------------------------------------------------------------


def payload_hash(payload: dict[str, Any]) -> str:
    """Stable SHA-256 of a payload (sorted keys) — detects changed records."""
    return hashlib.sha256(canonical(payload)).hexdigest()


class RawRecord(HubModel):
    """One record as the connector got it from the source, before any mapping."""

    source: Source
    external_id: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any]
    fetched_at: AwareDatetime = Field(default_factory=utcnow)
    payload_hash: str = ""
    #: the canonical bytes `payload_hash` was computed from (landing encrypts these, not a second dump)
    _canonical: bytes | None = PrivateAttr(default=None)

    def model_post_init(self, __context: Any) -> None:
        """Compute `payload_hash` from the payload when the connector left it empty."""
        if not self.payload_hash:
            blob = canonical(self.payload)
            self._canonical = blob
            object.__setattr__(self, "payload_hash", hashlib.sha256(blob).hexdigest())

    def canonical_payload(self) -> bytes:
        """The payload as sorted-key compact JSON bytes (what is hashed and stored encrypted)."""
        return self._canonical if self._canonical is not None else canonical(self.payload)


# --- the ticket --------------------------------------------------------------------


class Customer(HubModel):
    """Who complained: masked personal data, matching hashes and the flags routing uses."""

    name: PersonName | None = None
    phone: Phone | None = None
    id_number: IdNumber | None = None
    customer_id: str | None = None
    #: HMAC hashes for matching across channels (see core.pii.PiiVault.hash)
    phone_hash: str | None = None
    id_hash: str | None = None
    elderly: bool = False
    vip: bool = False
    region: str | None = None


_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: a space (`\s` is exactly str.isspace()) or a control character (C0 or DEL) anywhere in a reference
_REF_BAD_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")


def safe_attachment_ref(ref: str) -> bool:
    """An http(s) URL, or a path at the source (`/files/1`); never another scheme (`javascript:`,
    `data:`), a protocol-relative `//host`, or one with spaces or control characters (browsers drop
    those inside URLs, so `java\nscript:` would run)."""
    if not ref or _REF_BAD_CHAR.search(ref) or ref.startswith("//"):
        return False
    if _URI_SCHEME.match(ref):
        low = ref.lower()
        return low.startswith(("http://", "https://")) and len(low) > len("https://")
    return ":" not in ref.split("/", 1)[0]


class Attachment(HubModel):
    """A file attached at the source, by name and reference (the hub does not copy it)."""

    name: str
    ref: str  # an http(s) URL or a path at the source; the hub does not copy files

    @field_validator("ref")
    @classmethod
    def _http_only(cls, v: str) -> str:
        """Only http(s) or source paths: a `javascript:` or `data:` reference is refused (record quarantined)."""
        if not safe_attachment_ref(v):
            raise ValueError("attachment reference must be an http(s) URL or a path at the source")
        return v


class Matter(HubModel):
    """What the complaint is about: text, demands, amount, product, respondent, attachments."""

    title: str = ""
    content: str = ""
    demands: list[str] = Field(default_factory=list)
    amount: Decimal | None = None  # CNY
    product: str | None = None
    respondent: str | None = None  # 被投诉方 / 投诉对象
    order_no: str | None = None  # stored masked when it is an account/card number
    attachments: list[Attachment] = Field(default_factory=list)
    source_category: str | None = None  # the source's own code/label, kept for routing

    @field_serializer("title", "content")
    def _scrub(self, value: str, info: SerializationInfo) -> str:
        # Free text may hold phone/ID numbers: masked on every export unless the
        # store (raw_text) or an authorised reveal asks for the original.
        ctx = info.context or {}
        return value if ctx.get("raw_text") or ctx.get("reveal_pii") else scrub_text(value)

    @field_serializer("demands")
    def _scrub_list(self, value: list[str], info: SerializationInfo) -> list[str]:
        ctx = info.context or {}
        return value if ctx.get("raw_text") or ctx.get("reveal_pii") else [scrub_text(v) for v in value]


#: the free text of a matter that is stored only encrypted (with the ticket's PII), and its stored stand-in
SEALED_MATTER = ("title", "content", "demands")


def split_matter_text(m: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the matter JSON as stored in clear, the free text to encrypt).

    In clear: the title scrubbed of phone and ID numbers (the queue shows and searches it),
    no content, no demands. Encrypted (in `pii_enc`, AES-256-GCM): title, content, demands as given.
    """
    secret = {k: m.get(k) for k in SEALED_MATTER if k in m}
    clear = {**m, "title": scrub_text(m.get("title") or ""), "content": "", "demands": []}
    return clear, secret


class Explanation(HubModel):
    """Why a judgement or decision came out as it did (shown by `hub tickets show`)."""

    value: str
    reason: str
    matched: list[str] = Field(default_factory=list)  # keywords, rule ids, policy ids
    score: float | None = None


class Judgement(HubModel):
    """What judging decided: kind, business line, reason (category), urgency, risk, escalation, review."""

    kind: MessageKind = MessageKind.COMPLAINT
    #: what the complaint is about (a line of the industry profile in force)
    business_line: str | None = None
    #: why the customer complains: product / service / info_security
    category: Category | None = None
    sub_category: str | None = None
    tags: list[str] = Field(default_factory=list)
    urgency: Urgency = Urgency.GENERAL
    risk_score: float = 0.0
    risk_level: RiskLevel = RiskLevel.LOW
    escalation_intent: list[EscalationTarget] = Field(default_factory=list)
    vulnerable: bool = False
    repeat_count: int = 0
    incident_id: str | None = None
    #: the model's confidence in the reason and the business line (the lower of the two)
    confidence: float | None = None
    #: low confidence or rules and model disagreeing: routed to triage for a person to decide
    needs_review: bool = False
    model_version: str | None = None
    #: who set business line, reason and urgency by hand (the reclassify action): re-judging keeps them
    corrected_by: str | None = None


class Handling(HubModel):
    """Where handling stands: status, team, handler, priority, resolution and satisfaction."""

    status: Status = Status.NEW
    team: str | None = None
    handler: str | None = None
    first_handler: str | None = None  # 首接责任: owns the case to the end
    priority: int = 0
    resolved_at: AwareDatetime | None = None
    satisfied: bool | None = None
    source_status: str | None = None  # the source system's own status label


class Clock(HubModel):
    """One SLA clock of a ticket: its policy, start, due time, state, pauses and warning times."""

    kind: ClockKind
    policy: str  # id of the SLA policy that set it
    started_at: AwareDatetime
    due_at: AwareDatetime
    state: ClockState = ClockState.RUNNING
    paused_at: AwareDatetime | None = None
    paused_seconds: float = 0.0
    stopped_at: AwareDatetime | None = None  # met or breached
    warn_at: list[AwareDatetime] = Field(default_factory=list)  # warning thresholds


class CaseLink(HubModel):
    """Why this ticket joined a case: the other ticket and the similarity score."""

    case_id: str
    primary_ticket_id: str
    linked_to: str | None = None
    reason: str
    score: float | None = None


class Ticket(HubModel):
    """The unified complaint, one per (source, external id), with judgement, handling and clocks."""

    ticket_id: str
    source: Source
    external_id: str
    case_id: str | None = None
    case_link: CaseLink | None = None
    received_at: AwareDatetime
    ingested_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)
    customer: Customer = Field(default_factory=Customer)
    matter: Matter = Field(default_factory=Matter)
    judgement: Judgement = Field(default_factory=Judgement)
    handling: Handling = Field(default_factory=Handling)
    clocks: list[Clock] = Field(default_factory=list)
    explanations: dict[str, Explanation] = Field(default_factory=dict)
    mapping_version: str | None = None
    raw_hash: str | None = None  # payload hash of the raw record it came from

    @field_validator("received_at", "ingested_at", "updated_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return to_utc(v)

    def clock(self, kind: ClockKind) -> Clock | None:
        """The ticket's clock of this kind, or None when it has none."""
        return next((c for c in self.clocks if c.kind == kind), None)


def make_ticket_id(source: Source | str, external_id: str) -> str:
    """Deterministic ticket id from the natural key, so reruns name the same ticket.

    96 bits: the chance that two of a billion complaints share an id is ~1e-11 (48 bits,
    the first scheme, reached ~0.2 % at a million). The store matches tickets on the
    natural key, so tickets stored under the older, shorter ids keep them.
    """
    digest = hashlib.sha256(f"{Source(source)}:{external_id}".encode()).hexdigest()[:24].upper()
    return f"T{digest}"


class TicketEvent(HubModel):
    """One entry of a ticket's timeline (the audit trail)."""

    ticket_id: str
    at: AwareDatetime = Field(default_factory=utcnow)
    actor: str  # "hub", "system:<flow>", "team:<id>", "handler:<id>", "customer", "source:<key>"
    kind: str  # created, updated, routed, status_changed, reminded, pushed, reopened, linked, ...
    data: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


class StatusUpdate(HubModel):
    """A handling status that goes back to the source, in hub vocabulary.

    Each connector turns it into its system's own words (12315 协商结果,
    黑猫 reply/申请完成, app status, work-order status, SMS text). It carries no
    internal note: notes never leave the hub (DESIGN rule 6); `reply` is its only text.
    """

    ticket_id: str
    source: Source
    external_id: str
    status: Status
    reply: str | None = None  # text shown to the customer (12315: the 协商过程)
    settled: bool | None = None  # 12315: 和解成功 (True) / 和解不成 (False)
    method: str | None = None  # 12315 协商方式, e.g. 电话协商
    customer_phone: Phone | None = None  # SMS fallback channel
    idempotency_key: str
    extra: dict[str, Any] = Field(default_factory=dict)


class PushReceipt(HubModel):
    """What a source said when a StatusUpdate was pushed."""

    source: Source
    idempotency_key: str
    remote_ref: str | None = None  # biz_id, work-order version, ...
    already_applied: bool = False  # the source had it already: nothing was sent twice
    at: AwareDatetime = Field(default_factory=utcnow)
    detail: dict[str, Any] = Field(default_factory=dict)

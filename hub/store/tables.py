"""Table definitions (SQLAlchemy Core). Alembic migrations mirror these.

PII never sits in a plain column: `tickets.pii_enc` and `raw_records.payload_enc`
are encrypted tokens (AES-GCM; rows written before it: Fernet, still readable, see
`core.pii.PiiVault`); matching uses the HMAC hash columns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)



class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse a naive datetime; store UTC (without tzinfo on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use core.schema.utcnow()/to_utc()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """An aware UTC datetime (SQLite's naive values are UTC)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()
# BigInteger ids that still autoincrement on SQLite (which needs INTEGER PRIMARY KEY).
BIGID = BigInteger().with_variant(Integer(), "sqlite")

raw_records = Table(
    "raw_records", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("source", String(20), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("payload_enc", LargeBinary, nullable=False),
    Column("fetched_at", TS, nullable=False),
    Column("landed_at", TS, nullable=False),
    # landed → normalised | quarantined | ignored (survey replies, unsubscribes)
    Column("state", String(20), nullable=False, server_default="landed"),
    Column("ticket_id", String(40)),
    UniqueConstraint("source", "external_id", "payload_hash", name="uq_raw_version"),
    Index("ix_raw_state", "state", "id"),
)

sync_state = Table(
    "sync_state", metadata,
    Column("source", String(20), primary_key=True),
    Column("cursor", JSON),
    Column("updated_at", TS, nullable=False),
    Column("last_run_at", TS),
    Column("last_error", Text),
)

tickets = Table(
    "tickets", metadata,
    Column("ticket_id", String(40), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("case_id", String(40)),
    Column("is_primary", Boolean, nullable=False, server_default="1"),
    Column("incident_id", String(40)),
    Column("kind", String(20), nullable=False, server_default="complaint"),
    Column("status", String(20), nullable=False),
    Column("team", String(60)),
    Column("handler", String(60)),
    Column("first_handler", String(60)),
    Column("business_line", String(40)),  # what it is about (a line of the industry profile)
    Column("needs_review", Boolean, nullable=False, server_default="0"),  # routed to triage for a person
    Column("category", String(20)),
    Column("sub_category", String(60)),
    Column("urgency", String(20)),
    Column("risk_level", String(20)),
    Column("risk_score", Float),
    Column("repeat_count", Integer, nullable=False, server_default="0"),
    Column("phone_hash", String(64)),
    Column("id_hash", String(64)),
    Column("received_at", TS, nullable=False),
    Column("ingested_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("resolved_at", TS),
    Column("next_due_at", TS),  # nearest running clock: queue ordering
    Column("mapping_version", String(40)),
    Column("raw_hash", String(64)),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("pii_enc", LargeBinary),  # encrypted JSON of name, phone, id_number (core.pii.PiiVault)
    Column("data", JSON, nullable=False),  # the Ticket, PII masked, clocks excluded
    UniqueConstraint("source", "external_id", name="uq_ticket_natural_key"),
    Index("ix_tickets_status_due", "status", "next_due_at"),
    Index("ix_tickets_team_status", "team", "status"),
    # the assigner's open-ticket count per handler, read from the index alone (migration 0015)
    Index("ix_tickets_open_load", "status", "team", "handler"),
    # a customer's tickets by phone hash, with what sticky routing reads (index-only; migration 0016)
    Index("ix_tickets_phone_history", "phone_hash", "received_at", "kind", "team", "handler", "first_handler",
          "sub_category", "case_id", "ticket_id"),
    Index("ix_tickets_id_hash", "id_hash", "received_at"),  # migration 0007_ix_id_hash
    Index("ix_tickets_case", "case_id"),
    Index("ix_tickets_received", "received_at"),
    Index("ix_tickets_business_line", "business_line"),  # migration 0009_judgement_axes
)

ticket_events = Table(
    "ticket_events", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("ticket_id", String(40), ForeignKey("tickets.ticket_id", ondelete="CASCADE"), nullable=False),
    Column("at", TS, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("data", JSON, nullable=False),
    Column("note", Text),
    Index("ix_events_ticket_at", "ticket_id", "at"),
)

clocks = Table(
    "clocks", metadata,
    Column("ticket_id", String(40), ForeignKey("tickets.ticket_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("policy", String(60), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("due_at", TS, nullable=False),
    Column("state", String(20), nullable=False),
    Column("paused_at", TS),
    Column("paused_seconds", Float, nullable=False, server_default="0"),
    Column("stopped_at", TS),
    Column("warn_at", JSON, nullable=False),
    # When the chase must next look at this clock (next warning, breach or
    # escalation step). The chase scan reads only rows with next_alert_at <= now.
    Column("next_alert_at", TS),
    Column("urgent", Boolean, nullable=False, server_default="0"),
    Index("ix_clocks_alert", "state", "next_alert_at"),
)

reminders = Table(
    "reminders", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("ticket_id", String(40), ForeignKey("tickets.ticket_id", ondelete="CASCADE"), nullable=False),
    Column("clock_kind", String(20), nullable=False),
    Column("level", String(40), nullable=False),  # warn_50, warn_75, breach, escalate_1, ...
    Column("recipient", String(120)),
    Column("created_at", TS, nullable=False),
    Column("outbox_key", String(200)),
    UniqueConstraint("ticket_id", "clock_kind", "level", name="uq_reminder_once"),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("raw_id", BIGID, ForeignKey("raw_records.id"), nullable=False),
    Column("source", String(20), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("field", String(200)),
    Column("reason", Text, nullable=False),
    Column("mapping_version", String(40)),
    Column("created_at", TS, nullable=False),
    Column("state", String(20), nullable=False, server_default="open"),  # open | replayed | discarded
    Column("resolved_at", TS),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Index("ix_quarantine_state", "state", "source"),
    UniqueConstraint("raw_id", name="uq_quarantine_raw"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("kind", String(30), nullable=False),  # dispatch | reminder | status_update | sms | ops
    Column("target", String(120), nullable=False),  # source key, team destination, ...
    Column("ticket_id", String(40)),
    Column("payload", JSON, nullable=False),  # PII masked
    Column("secret_enc", LargeBinary),  # encrypted extras needed to send (e.g. a phone)
    Column("state", String(20), nullable=False, server_default="pending"),  # pending|sending|sent|skipped|failed|dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", TS, nullable=False),
    Column("claimed_by", String(80)),
    Column("claimed_at", TS),
    Column("sent_at", TS),
    Column("last_error", Text),
    Column("receipt", JSON),
    Column("created_at", TS, nullable=False),
    # SMS: what the gateway's delivery report said (migration 0013_sms_delivery; hub/outbox/delivery.py)
    Column("delivery", String(20)),  # delivered | failed; NULL while no report came
    Column("delivery_at", TS),
    Column("delivery_status", String(80)),  # the gateway's status/error code, e.g. UNDELIV/UNSUBSCRIBED
    Index("ix_outbox_due", "state", "next_attempt_at"),
    Index("ix_outbox_ticket", "ticket_id"),
    Index("ix_outbox_delivery", "kind", "state", "delivery"),
)

#: per SMS source: the gateway's position in its delivery-report feed (migration 0013_sms_delivery)
delivery_cursors = Table(
    "delivery_cursors", metadata,
    Column("source", String(20), primary_key=True),
    Column("cursor", JSON),
    Column("updated_at", TS, nullable=False),
)

#: one sync of a source at a time where no shared Prefect limit applies (migration 0014_sync_leases)
sync_leases = Table(
    "sync_leases", metadata,
    Column("source", String(20), primary_key=True),
    Column("holder", String(120)),  # host:pid:token; NULL when free
    Column("acquired_at", TS),
    Column("expires_at", TS),
)

# Connectors' memory of what they pushed (e.g. SMS out_ids), so a retry after an
# unknown outcome can check before sending again. Written through a ledger object.
push_ledger = Table(
    "push_ledger", metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("state", String(20), nullable=False),  # sending | sent
    Column("remote_ref", String(200)),
    Column("updated_at", TS, nullable=False),
)

incidents = Table(
    "incidents", metadata,
    Column("incident_id", String(40), primary_key=True),
    Column("signature", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("first_at", TS, nullable=False),
    Column("last_at", TS, nullable=False),
    Column("ticket_count", Integer, nullable=False, server_default="0"),
    Column("team", String(60)),
    Column("state", String(20), nullable=False, server_default="open"),
    Column("data", JSON, nullable=False),
    Index("ix_incidents_sig", "signature", "last_at"),
)

#: a ticket's case-linking signature (hub/pipeline/dedupe.py), stored once per raw record and configuration
ticket_signatures = Table(
    "ticket_signatures", metadata,
    Column("ticket_id", String(40), primary_key=True),
    Column("raw_hash", String(64), nullable=False),
    Column("config_key", String(32), nullable=False),
    Column("size", Integer, nullable=False),  # shingle count
    #: encrypted (core.pii.PiiVault, as the free text it comes from): MinHash minima + topics + amounts
    Column("descriptor", LargeBinary, nullable=False),
)

team_state = Table(
    "team_state", metadata,
    Column("team", String(60), primary_key=True),
    Column("rr_index", Integer, nullable=False, server_default="0"),
    Column("data", JSON, nullable=False),
)

#: open tickets per (team, handler), kept by the ticket writers (hub/store/handler_load.py, migration 0017):
#: least_loaded routing reads these few rows instead of counting every open ticket per batch
handler_load = Table(
    "handler_load", metadata,
    Column("team", String(60), primary_key=True),
    Column("handler", String(60), primary_key=True),
    Column("open_count", Integer, nullable=False),
)

#: PostgreSQL only: the writers append their deltas here instead of updating `handler_load` rows, so
#: two transactions touching the same handlers in another order never lock each other; folded in later
handler_load_log = Table(
    "handler_load_log", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("team", String(60), nullable=False),
    Column("handler", String(60), nullable=False),
    Column("delta", Integer, nullable=False),
)

surveys = Table(
    "surveys", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("ticket_id", String(40), ForeignKey("tickets.ticket_id", ondelete="CASCADE"), nullable=False),
    Column("phone_hash", String(64), nullable=False),
    Column("sent_at", TS, nullable=False),
    Column("state", String(20), nullable=False, server_default="pending"),  # pending|answered|expired
    Column("answer", String(40)),
    Column("answered_at", TS),
    Index("ix_surveys_phone", "phone_hash", "state"),
)

contact_optouts = Table(
    "contact_optouts", metadata,
    Column("phone_hash", String(64), primary_key=True),
    Column("channel", String(20), nullable=False, server_default="sms"),
    Column("at", TS, nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_hash", String(128), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("team", String(60), nullable=False),
    Column("role", String(20), nullable=False),  # handler | lead | admin | compliance
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("expires_at", TS),  # None: no expiry
    Column("last_used_at", TS),
)

users = Table(
    "users", metadata,
    Column("username", String(80), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("display_name", String(80)),
    Column("team", String(60), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    # bumped by logout, disable, team/role change and a new password: older sessions stop working
    Column("session_version", Integer, nullable=False, server_default="0"),
)

# Access events that belong to no ticket: sign-ins, lockouts, user and token changes.
audit_log = Table(
    "audit_log", metadata,
    Column("id", BIGID, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("actor", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_audit_log_at", "at"),
)

# A console user's saved queue filters (issue 18): filter keys only, never the search text.
saved_searches = Table(
    "saved_searches", metadata,
    Column("username", String(80), primary_key=True),
    Column("name", String(60), primary_key=True),
    Column("params", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

# Failed sign-ins per key (`user:<name>|client:<addr>`), shared by every API process.
login_throttle = Table(
    "login_throttle", metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("last_failure_at", TS),
    Column("locked_until", TS),
)

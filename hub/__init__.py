"""Complaint hub: the domain (schema, store, mapping, judgement, routing, SLA, outbox)."""

__version__ = "0.1.0"

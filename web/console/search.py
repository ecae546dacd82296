"""The queue's search and filters, read from the query string into `QueueFilters`.

A phone number typed by the handler is turned into the vault's keyed hash at once and matched
against the stored hash: the raw number is neither stored nor logged nor echoed back. A value
outside its allowed set is a 422 that names the field, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.pii import get_vault
from core.schema import SHANGHAI, Status, Urgency, to_utc
from hub.backoffice.queries import QueueFilters
from hub.judge.config import get_taxonomy
from hub.labels import source_labels

#: a mainland mobile or fixed-line number as typed (spaces, dashes, +86 allowed)
_PHONE = re.compile(r"^(?:\+?86)?0?\d{7,11}$")
_PHONE_STRIP = re.compile(r"[\s\-()]")
#: a ticket or source number: letters, digits and a few separators
_NUMBER = re.compile(r"^[\w\-./:#]{1,120}$")


class FilterError(ValueError):
    """A filter value that is not allowed; `field` names it (the value is never repeated)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass
class SearchForm:
    """What the search form shows back: the filter keys chosen (the query text only as a kind)."""

    status: str | None = None
    urgency: str | None = None
    source: str | None = None
    line: str | None = None
    due: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    #: "phone", "number" or None: what the query was taken for
    query_kind: str | None = None


def _choice(field: str, value: str | None, allowed: Iterable[str]) -> str | None:
    if not value:
        return None
    if value not in set(allowed):
        raise FilterError(field)
    return value


def _day(field: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(field) from None


def business_lines() -> list[tuple[str, str]]:
    """The profile's business lines as (key, label) pairs."""
    tax = get_taxonomy()
    return [(k, v.label) for k, v in tax.lines.lines.items()] if tax.lines else []


def parse_filters(params: dict[str, str], *, limit: int = 300) -> tuple[QueueFilters, SearchForm]:
    """Query parameters → filters (and the form's echo of the chosen keys); FilterError names a bad field."""
    form = SearchForm(
        status=_choice("status", params.get("status"), [s.value for s in Status]),
        urgency=_choice("urgency", params.get("urgency"), [u.value for u in Urgency]),
        source=_choice("source", params.get("source"), source_labels()),
        line=_choice("line", params.get("line"), [k for k, _ in business_lines()]),
        due=_choice("due", params.get("due"), ["soon", "overdue"]))
    start, end = _day("from", params.get("from")), _day("to", params.get("to"))
    if start and end and end < start:
        raise FilterError("to")
    form.date_from, form.date_to = (start.isoformat() if start else None), (end.isoformat() if end else None)
    f = QueueFilters(status=form.status, urgency=form.urgency, source=form.source, business_line=form.line,
                     due_soon=form.due == "soon", overdue=form.due == "overdue", limit=limit)
    if start:
        f.received_from = to_utc(datetime.combine(start, time.min, SHANGHAI))
    if end:
        f.received_to = to_utc(datetime.combine(end + timedelta(days=1), time.min, SHANGHAI))
    q = (params.get("q") or "").strip()
    if q:
        if len(q) > 120:
            raise FilterError("q")
        compact = _PHONE_STRIP.sub("", q)
        if _PHONE.match(compact) and not compact.upper().startswith("T"):
            digits = compact[-11:] if compact.startswith(("+86", "86")) and len(compact) > 11 else compact
            f.phone_hash = get_vault().hash(digits)
            # a source number may be all digits too: also match it as a number
            f.external_id = compact
            form.query_kind = "phone"
        elif _NUMBER.match(q):
            f.ticket_id, f.external_id = q.upper(), q
            form.query_kind = "number"
        else:
            raise FilterError("q")
        f.include_closed = True  # a search finds a ticket in any status
    if params.get("closed") == "1":
        f.include_closed = True
    return f, form

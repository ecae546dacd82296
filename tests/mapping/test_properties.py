"""Property-based: arbitrary and malformed payloads never crash the engine; each maps or fails with a reason."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.schema import MessageKind, RawRecord, Ticket
from core.settings import PROJECT_ROOT
from hub.mapping import load_mappings
from hub.store.tickets import ticket_to_row
from tests.mapping.helpers import EXT_KEY, FIXED_NOW, comparable_row, samples

MS = load_mappings(PROJECT_ROOT / "mappings", require_all=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=40), st.sampled_from(["", " ", "¥1,234.50元", "１２３", "2026-13-45 25:61:00",
                                                          "昨天下午", "<b>x</b>", "13812345678", "abc", "10", "T"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def _check(source: str, payload: dict[str, Any]) -> None:
    raw = RawRecord(source=source, external_id="X1", payload=payload)
    out = MS.map(raw)
    _same_as_fast_path(raw, out)
    if out.failure is not None:
        assert out.ticket is None and out.failure.field and out.failure.message
        assert out.mapping_version == MS.version(source)
    elif out.kind is MessageKind.COMPLAINT:
        assert isinstance(out.ticket, Ticket) and out.ticket.matter.content
        Ticket.model_validate(out.ticket.model_dump(context={"reveal_pii": True}))  # survives a round trip
    else:
        assert source == "sms" and out.ticket is None


def _same_as_fast_path(raw: RawRecord, out: Any) -> None:
    """`map_row` (the ingest path) agrees with `map`: the same failure, or the same stored row."""
    quick = MS.map_row(raw, None, FIXED_NOW)
    assert quick.failure == out.failure and quick.kind == out.kind
    if out.ticket is None:
        assert quick.row is None and quick.ticket is None
        return
    if quick.row is None:  # values the fast path leaves to pydantic: the model path itself
        assert quick.ticket.model_copy(update={"ingested_at": FIXED_NOW, "updated_at": FIXED_NOW}) == \
            out.ticket.model_copy(update={"ingested_at": FIXED_NOW, "updated_at": FIXED_NOW})
        return
    ticket = out.ticket.model_copy(update={"ingested_at": FIXED_NOW, "updated_at": FIXED_NOW})
    assert comparable_row(quick.row, quick.pii) == comparable_row(ticket_to_row(ticket), None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(list(EXT_KEY)), payload=st.dictionaries(st.text(max_size=12), values, max_size=8))
def test_arbitrary_payloads_never_crash(source, payload):  # noqa: ANN001
    _check(source, payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(list(EXT_KEY)), data=st.data())
def test_mutated_real_payloads_never_crash(source, data):  # noqa: ANN001
    payload = samples(source)[0]
    for key in data.draw(st.lists(st.sampled_from(sorted(payload)), max_size=4, unique=True)):
        if data.draw(st.booleans()):
            del payload[key]
        else:
            payload[key] = data.draw(values)
    _check(source, payload)

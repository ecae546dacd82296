"""The ingest fast path writes exactly the row the pydantic Ticket path writes.

`CompiledMapping.map_row` skips building a `Ticket` for plainly typed values
(`hub.mapping.rows.fresh_row`). These tests hold it to the slow path on every
sandbox record — edge cases and malformed ones included — and check that values
outside the fast path's types still go through pydantic.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from core.pii import get_vault
from core.schema import RawRecord
from core.settings import PROJECT_ROOT
from hub.mapping import load_mappings
from hub.mapping.rows import fresh_row
from hub.store.tickets import ticket_to_row
from tests.mapping.helpers import FIXED_NOW, comparable_row

generator = pytest.importorskip("sandbox.generator")
NOW = FIXED_NOW


def test_fast_rows_equal_the_pydantic_path_on_every_sandbox_record():
    records, _truth = generator.generate_records_with_truth(5, 3000)
    ms = load_mappings(PROJECT_ROOT / "mappings", require_all=True)
    vault = get_vault()
    fast = slow_only = failed = 0
    for source, ext, payload in records:
        raw = RawRecord(source=source, external_id=ext, payload=payload)
        quick = ms.map_row(raw, vault, NOW)
        model = ms.map(raw, vault)
        assert (quick.failure is None) == (model.failure is None), (source, ext)
        if model.failure is not None:
            failed += 1
            assert quick.failure == model.failure  # the same field and reason for the quarantine
            continue
        assert quick.kind == model.kind
        if model.ticket is None:
            continue
        ticket = model.ticket.model_copy(update={"ingested_at": NOW, "updated_at": NOW})
        expected = comparable_row(ticket_to_row(ticket, vault), None)
        if quick.row is None:
            slow_only += 1
            assert quick.ticket == model.ticket.model_copy(
                update={"ingested_at": quick.ticket.ingested_at, "updated_at": quick.ticket.updated_at})
            continue
        fast += 1
        assert comparable_row(quick.row, quick.pii) == expected, (source, ext)
    assert fast > 2000 and failed > 10
    # plain sandbox records never need the model (a fast path that always bails would pass the equality)
    assert slow_only == 0


def _doc(**changes):  # noqa: ANN003, ANN202
    doc = {"customer": {"name": "张三", "phone": "13812345678", "elderly": False},
           "matter": {"title": "t", "content": "c", "amount": Decimal("12.50")},
           "handling": {"source_status": "open"}, "received_at": NOW, "ticket_id": "TX", "source": "app",
           "external_id": "E1", "mapping_version": "app@1", "raw_hash": "h"}
    for path, value in changes.items():
        head, _, tail = path.partition("__")
        if tail:
            doc[head][tail] = value
        else:
            doc[head] = value
    return doc


@pytest.mark.parametrize("change", [
    {"customer__vip": 1},  # pydantic turns 1 into True: its call, not ours
    {"customer__name": " 张三 "},  # the model strips names
    {"matter__amount": 12.5},  # a float amount
    {"matter__demands": ["a", 3]},
    {"matter__attachments": [{"name": "a", "url": "b"}]},
    {"matter__colour": "red"},  # a key the model would refuse
    {"received_at": datetime(2026, 11, 1, 8, 0)},  # naive
    {"handling__source_status": 10},
])
def test_values_outside_the_fast_types_go_to_pydantic(change):  # noqa: ANN001
    assert fresh_row(_doc(), NOW) is not None
    assert fresh_row(_doc(**change), NOW) is None

"""Typed, documented flow parameters: the schema Prefect stores and the server checks, and the run-time values."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import ValidationError, validate

from connectors.registry import source_keys
from core.schema import utcnow
from flows.cycle import hub_cycle
from flows.ops import chase_overdue, daily_report, push_updates, replay_quarantine
from flows.params import check_since
from flows.sync import backfill, sync_all, sync_source

FLOWS = (sync_source, sync_all, backfill, push_updates, chase_overdue, replay_quarantine, daily_report, hub_cycle)


def _schema(f) -> dict:  # noqa: ANN001
    return parameter_schema(f).model_dump()


def test_source_is_an_enum_of_the_declared_sources() -> None:
    props = _schema(sync_source)["properties"]
    assert props["source"]["enum"] == source_keys(enabled_only=False)
    assert _schema(sync_all)["properties"]["sources"]["anyOf"][0]["items"]["enum"] == source_keys(enabled_only=False)


@pytest.mark.parametrize("f", FLOWS, ids=lambda f: f.name)
def test_every_parameter_has_a_description_for_the_ui(f) -> None:  # noqa: ANN001
    props = _schema(f)["properties"]
    assert props and all(p.get("description") for p in props.values()), {k: p.get("description") for k, p in props.items()}


def test_the_server_side_check_refuses_bad_values_and_names_the_field() -> None:
    schema = _schema(backfill)
    validate({"source": "app", "since": "2026-11-20"}, schema, raise_on_error=True)
    validate({"source": "app", "since": "2026-11-20T08:00:00+08:00"}, schema, raise_on_error=True)
    with pytest.raises(ValidationError, match="'source'"):
        validate({"source": "foo", "since": "2026-11-20"}, schema, raise_on_error=True)
    with pytest.raises(ValidationError, match="'since'"):
        validate({"source": "app", "since": "yesterday"}, schema, raise_on_error=True)
    with pytest.raises(ValidationError, match="'limit'"):
        validate({"limit": 0}, _schema(push_updates), raise_on_error=True)


def test_naive_times_are_asia_shanghai_and_aware_ones_kept() -> None:
    got = backfill.validate_parameters({"source": "app", "since": "2026-11-20T08:00:00"})
    assert got["since"] == datetime(2026, 11, 20, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert got["since"].utcoffset() == timedelta(hours=8)
    got = backfill.validate_parameters({"source": "app", "since": "2026-11-20T00:00:00Z"})
    assert got["since"].utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="unknown source"):
        sync_source.validate_parameters({"source": "foo"})


def test_backfill_window_is_range_checked() -> None:
    now = utcnow()
    assert check_since(now - timedelta(days=3), now) == now - timedelta(days=3)
    with pytest.raises(ValueError, match="since: .* in the future"):
        check_since(now + timedelta(hours=1), now)
    with pytest.raises(ValueError, match="since: .* days back"):
        check_since(now - timedelta(days=401), now)

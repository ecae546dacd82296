"""The error table in core/errors.py says what the code does: every class, its parent and its retry meaning."""

from __future__ import annotations

import pickle
import re

import pytest

import connectors.portal.base
import core.errors
import hub.mapping.spec
import hub.pipeline.pull
from core.errors import HubError, PushRefused, TransientError


def _table() -> dict[str, tuple[str, bool]]:
    rows = {}
    for line in (core.errors.__doc__ or "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[A-Z]\w+", cells[0]) and cells[0] != "class":
            rows[cells[0]] = (cells[1], cells[2] == "yes")
    return rows


def _tree() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    todo: list[type[BaseException]] = [HubError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def test_every_hub_error_is_in_the_table_with_its_parent_and_retry_meaning():
    # the modules that define errors above core (importing them puts their classes in the tree)
    assert connectors.portal.base and hub.mapping.spec and hub.pipeline.pull
    table, tree = _table(), _tree()
    assert set(table) == set(tree), f"not in the table: {set(tree) - set(table)}; gone: {set(table) - set(tree)}"
    for name, (parent, retryable) in table.items():
        cls = tree[name]
        assert cls.__bases__[0].__name__ == parent, name
        assert cls.retryable is retryable, name


def test_only_transient_errors_are_retryable():
    assert [n for n, c in _tree().items() if c.retryable] == ["TransientError"]


def test_declared_fields_survive_pickling():
    """A failed flow run keeps its exception: the declared fields must come back with it."""
    err = TransientError("HTTP 503", source="app", retry_after=2.0, status_code=503, outcome_unknown=False)
    back = pickle.loads(pickle.dumps(err))
    assert (back.retry_after, back.status_code, back.source, str(back)) == (2.0, 503, "app", str(err))
    refused = pickle.loads(pickle.dumps(PushRefused("revoked", source="callcenter", field="status")))
    assert refused.field == "status" and not refused.retryable


@pytest.mark.parametrize("cls", [c for c in _tree().values() if c is not HubError])
def test_every_error_names_its_meaning(cls):
    assert cls.__doc__ and len(cls.__doc__.split()) >= 4, f"{cls.__name__} needs a docstring that says what it means"

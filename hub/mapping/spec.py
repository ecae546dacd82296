"""The YAML mapping format (pydantic models) and its compilation into callables.

A mapping file, `mappings/<source>.yaml`::

    source: app
    version: 3
    external_id: id
    fields:
      received_at: {path: created_at, transforms: [{datetime: {format: iso}}], required: true}
      customer.phone: {path: user.mobile, transforms: [phone]}
      matter.attachments: {path: attachments, transforms: [{records: {fields: {name: name, ref: url}}}]}
    ignore: [updated_at]          # source keys read elsewhere: not reported as unknown

Paths: `a.b` nested keys, `a[0]` / `a[-1]` list items, `a[*].b` every item.
A list of paths takes the first one with a value. Transforms are names or
one-key maps `{name: {args}}` (see `hub.mapping.transforms`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.schema import Source
from hub.mapping.transforms import TransformError

#: every place a mapping may write to (dotted paths into core.schema.Ticket);
#: `customer.age` is virtual: it feeds the elderly flag.
TARGETS: dict[str, str] = {
    "received_at": "source time of the complaint (tz-aware)",
    "customer.name": "complainant's name", "customer.phone": "phone (normalised)",
    "customer.id_number": "resident ID number", "customer.customer_id": "the source's customer id",
    "customer.vip": "VIP flag", "customer.elderly": "elderly flag (else derived from ID/age)",
    "customer.age": "age in years (virtual: sets elderly)", "customer.region": "region",
    "matter.title": "title", "matter.content": "complaint text", "matter.demands": "list of demands",
    "matter.amount": "amount at stake (Decimal CNY)", "matter.product": "product / business line",
    "matter.respondent": "company complained about", "matter.order_no": "order/account number",
    "matter.attachments": "list of {name, ref}", "matter.source_category": "source's own category code",
    "handling.source_status": "the source's status label",
}
REQUIRED_TARGETS = ("received_at", "matter.content")

_SEGMENT = re.compile(r"^([^\[\].]+)((?:\[(?:-?\d+|\*)\])*)$")
_INDEX = re.compile(r"\[(-?\d+|\*)\]")
MISSING: Any = None


class PathError(TransformError):
    """The payload's structure does not fit the path (e.g. a text where an object belongs)."""


def parse_path(path: str) -> list[str | int]:
    """`a.b[0][*].c` → ['a', 'b', 0, '*', 'c'] (raises ValueError on bad syntax)."""
    steps: list[str | int] = []
    if not path or path.strip() != path:
        raise ValueError(f"bad path {path!r}")
    for part in path.split("."):
        m = _SEGMENT.match(part)
        if not m:
            raise ValueError(f"bad path {path!r} at {part!r}")
        steps.append(m.group(1))
        for idx in _INDEX.findall(m.group(2)):
            steps.append("*" if idx == "*" else int(idx))
    return steps


def compile_path(path: str) -> Callable[[Any], Any]:
    """A fast getter for one path; missing keys/items give None."""
    steps = parse_path(path)
    if len(steps) == 1:  # the common case: a top-level key
        key = steps[0]
        return lambda d: d.get(key)
    if len(steps) == 2 and all(isinstance(s, str) and s != "*" for s in steps):
        a, b = steps

        def two(d: Any) -> Any:
            inner = d.get(a)
            if inner is None:
                return None
            if not isinstance(inner, dict):
                raise PathError(f"{a}: expected an object, got {type(inner).__name__}")
            return inner.get(b)

        return two
    return lambda d: _walk(d, steps, 0, path)


def _walk(cur: Any, steps: list[str | int], i: int, path: str) -> Any:
    while i < len(steps):
        if cur is None:
            return None
        step = steps[i]
        if step == "*":
            if not isinstance(cur, list):
                raise PathError(f"{path}: expected a list, got {type(cur).__name__}")
            items = [_walk(x, steps, i + 1, path) for x in cur]
            return [x for x in items if x is not None]
        if isinstance(step, int):
            if not isinstance(cur, list):
                raise PathError(f"{path}: expected a list, got {type(cur).__name__}")
            cur = cur[step] if -len(cur) <= step < len(cur) else None
        else:
            if not isinstance(cur, dict):
                raise PathError(f"{path}: expected an object, got {type(cur).__name__}")
            cur = cur.get(step)
        i += 1
    return cur


class FieldSpec(BaseModel):
    """Where one ticket field comes from and how it is cleaned."""

    model_config = ConfigDict(extra="forbid")

    path: str | list[str] | None = None
    value: Any = None  # a constant instead of a path
    transforms: list[str | dict[str, Any]] = Field(default_factory=list)
    default: Any = None
    required: bool = False

    @field_validator("path")
    @classmethod
    def _paths_parse(cls, v: str | list[str] | None) -> str | list[str] | None:
        for p in [v] if isinstance(v, str) else (v or []):
            parse_path(p)
        return v

    @model_validator(mode="after")
    def _has_source(self) -> FieldSpec:
        if self.path is None and self.value is None and self.default is None:
            raise ValueError("give a path, a value or a default")
        return self

    @property
    def paths(self) -> list[str]:
        """The paths to try, in order (the first non-empty value wins), as a list."""
        return [self.path] if isinstance(self.path, str) else list(self.path or [])


class IntentSpec(BaseModel):
    """Inbound messages that may not be complaints (SMS): which text decides."""

    model_config = ConfigDict(extra="forbid")
    path: str
    hint: str | None = None  # a connector's own classification, trusted when present


class MappingSpec(BaseModel):
    """One `mappings/<source>.yaml` file."""

    model_config = ConfigDict(extra="forbid")

    source: Source
    version: int = Field(ge=1)
    description: str = ""
    external_id: str
    intent: IntentSpec | None = None
    fields: dict[str, FieldSpec]
    ignore: list[str] = Field(default_factory=list)
    elderly_age: int = Field(default=65, ge=1, le=130)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # `customer.name: complainant` is shorthand for `{path: complainant}`
        if isinstance(v, dict):
            return {k: ({"path": x} if isinstance(x, str | list) else x) for k, x in v.items()}
        return v

    @field_validator("fields")
    @classmethod
    def _targets(cls, v: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        unknown = [k for k in v if k not in TARGETS]
        if unknown:
            raise ValueError(f"unknown target(s) {', '.join(unknown)}; allowed: {', '.join(TARGETS)}")
        missing = [k for k in REQUIRED_TARGETS if k not in v]
        if missing:
            raise ValueError(f"every mapping must fill {', '.join(missing)}")
        return v

    @field_validator("external_id")
    @classmethod
    def _ext_path(cls, v: str) -> str:
        parse_path(v)
        return v

    def known_keys(self) -> set[str]:
        """Top-level payload keys this mapping reads or deliberately ignores."""
        keys = {str(parse_path(self.external_id)[0]), *self.ignore}
        for f in self.fields.values():
            keys.update(str(parse_path(p)[0]) for p in f.paths)
        if self.intent:
            keys.add(str(parse_path(self.intent.path)[0]))
            if self.intent.hint:
                keys.add(str(parse_path(self.intent.hint)[0]))
        return keys

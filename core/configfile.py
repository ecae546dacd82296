"""Operator configuration: read a YAML file into a pydantic model, and one reload for every cached config.

Each loader of operator-edited configuration (teams, routing, SLA, calendar,
taxonomy, chase, dedupe, sources, mappings) and everything derived from the
settings (the PII vault, the default store) is cached per process and registered
here; `reload_config()` forgets them all at once, so the next call re-reads the
files (tests call it around every change; a long-lived server may call it after
an operator's edit).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")
R = TypeVar("R")

_RELOADS: list[Callable[[], None]] = []


def cached_config(fn: Callable[P, R]) -> Callable[P, R]:
    """`functools.cache` for a configuration loader, forgotten by `reload_config()`."""
    cached = functools.cache(fn)
    _RELOADS.append(cached.cache_clear)
    return cast(Callable[P, R], functools.wraps(fn)(cached))


def on_reload(clear: Callable[[], None]) -> None:
    """Register another cache of configuration (one that is not a `cached_config` function)."""
    _RELOADS.append(clear)


def reload_config() -> None:
    """Forget every cached configuration, settings included: the next use re-reads them."""
    for clear in _RELOADS:
        clear()


def read_yaml(path: Path, *, missing_ok: bool = False) -> Any:
    """The parsed YAML document (None for a missing file when `missing_ok`)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        if missing_ok:
            return None
        raise ConfigError(f"{path}: not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc


def load_model(path: Path, model: type[M], *, missing_ok: bool = False) -> M:
    """Validate `path` as `model`; a missing file gives the model's defaults when `missing_ok`."""
    data = read_yaml(path, missing_ok=missing_ok)
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {loc}: {first['msg']}") from exc

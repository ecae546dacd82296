"""Connectors by source key, derived from `config/sources.yaml` and each connector's declaration.

    conn = make_connector("app")                       # config from config/sources.yaml
    async with conn:
        async for page in conn.pull(cursor): ...

The configured sources are the sections of `config/sources.yaml`; each section's
connector is the class named by its `connector:` key, or else the `Connector`
subclass declared in `connectors/<source>.py` whose `key` is the source. The class
declares everything else (kind, label, cursor, backfill cursor, options), so the
CLI choices, labels, flow parameters and benchmarks take them from here.
Connector modules import no Playwright at import time, so listing sources is cheap.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from datetime import datetime

import httpx

from connectors.api import HttpConnector
from connectors.base import Connector, CursorModel, PushLedger
from connectors.config import SourceConfig, SourcesConfig, current_sources
from connectors.portal.base import PortalConnector
from connectors.portal.runtime import PortalRuntime
from core.configfile import on_reload
from core.errors import ConfigError


@dataclass(frozen=True)
class SourceInfo:
    """What the hub knows about one configured source."""

    key: str
    kind: str
    label: str
    enabled: bool
    connector: type[Connector]


def connector_class(source: str, config: SourceConfig | SourcesConfig | None = None) -> type[Connector]:
    """The connector class of a configured source (imported on first use)."""
    return _class_for(_section(source, config))


def _section(source: str, config: SourceConfig | SourcesConfig | None) -> SourceConfig:
    if isinstance(config, SourceConfig):
        return config
    return (config or current_sources())[source]


def _class_for(cfg: SourceConfig) -> type[Connector]:
    ref = cfg.connector or f"connectors.{cfg.source}"
    module_name, _, class_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"connector module {module_name} cannot be imported: {exc}", source=cfg.source,
                          hint="set `connector: package.module:Class` in the source's section") from None
    if class_name:
        found = getattr(module, class_name, None)
        candidates = [found] if inspect.isclass(found) and issubclass(found, Connector) else []
    else:
        candidates = [c for _, c in inspect.getmembers(module, inspect.isclass)
                      if issubclass(c, Connector) and c.__module__ == module.__name__
                      and getattr(c, "key", None) == cfg.source]
    if len(candidates) != 1:
        raise ConfigError(f"{ref} declares no connector with key {cfg.source!r}", source=cfg.source)
    cls = candidates[0]
    if getattr(cls, "key", None) != cfg.source:
        raise ConfigError(f"{ref} declares key {getattr(cls, 'key', None)!r}, configured as {cfg.source!r}",
                          source=cfg.source)
    if cls.kind != cfg.kind:
        raise ConfigError(f"{cfg.source} is configured as kind {cfg.kind!r}; its connector is {cls.kind!r}",
                          source=cfg.source, hint="fix `kind:` in config/sources.yaml")
    return cls


#: the declarations of a configuration already looked at (labels are read on every page render)
_declared: dict[int, tuple[SourcesConfig, list[SourceInfo]]] = {}
on_reload(_declared.clear)


def sources(config: SourcesConfig | None = None) -> list[SourceInfo]:
    """Every configured source with its declaration, in the order of config/sources.yaml."""
    cfg = config or current_sources()
    hit = _declared.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    out = []
    for key, section in cfg.sources.items():
        cls = _class_for(section)
        out.append(SourceInfo(key=key, kind=cls.kind, label=cls.label, enabled=section.enabled, connector=cls))
    if len(_declared) > 16:
        _declared.clear()
    _declared[id(cfg)] = (cfg, out)
    return out


def source_keys(config: SourcesConfig | None = None, *, enabled_only: bool = True) -> list[str]:
    """The keys of the configured (by default: enabled) sources."""
    cfg = config or current_sources()
    return [k for k, s in cfg.sources.items() if s.enabled or not enabled_only]


def check_source(source: str, config: SourcesConfig | None = None) -> str:
    """`source` when it is a configured source; else a ConfigError listing the configured ones."""
    keys = source_keys(config, enabled_only=False)
    if source not in keys:
        raise ConfigError(f"unknown source {source!r}", hint=f"one of {', '.join(keys)}")
    return source


def labels(config: SourcesConfig | None = None) -> dict[str, str]:
    """Source key → its name for people (console, reports)."""
    try:
        return {s.key: s.label for s in sources(config)}
    except ConfigError:
        return {}  # a label is cosmetic: a broken section is reported where the source is used


def is_portal(source: str, config: SourceConfig | SourcesConfig | None = None) -> bool:
    """Whether the source's connector drives a browser (one Playwright runtime serves them all)."""
    return issubclass(connector_class(source, config), PortalConnector)


def make_connector(source: str, *, config: SourceConfig | SourcesConfig | None = None,
                   ledger: PushLedger | None = None, portal_runtime: PortalRuntime | None = None,
                   transport: httpx.AsyncBaseTransport | None = None,
                   close_runtime: bool | None = None) -> Connector:
    """Build the connector of `source` from its configuration.

    `config`: the source's `SourceConfig`, the whole `SourcesConfig`, or None to
    read `config/sources.yaml` (with `HUB_SOURCE_URLS` applied). `ledger`: the
    push ledger (SMS needs one in production). `portal_runtime`: a shared
    `PortalRuntime` for the portal sources (None: the connector starts its own).
    `transport`: an httpx transport for the API sources (tests).
    """
    cfg = _section(source, config)
    if not cfg.enabled:
        raise ConfigError(f"source {cfg.source} is disabled in config/sources.yaml", source=cfg.source)
    cls = _class_for(cfg)
    if issubclass(cls, PortalConnector):
        return cls(cfg, ledger=ledger, runtime=portal_runtime, close_runtime=close_runtime)
    if issubclass(cls, HttpConnector):
        return cls(cfg, ledger=ledger, transport=transport)
    return cls(cfg, ledger=ledger)


def backfill_cursor(source: str, since: datetime) -> CursorModel:
    """A cursor that makes `pull()` re-read `source` from `since` (the connector declares how)."""
    return connector_class(source).backfill_cursor(since)

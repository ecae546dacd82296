"""Connectors by source key.

    conn = make_connector("app")                       # config from config/sources.yaml
    async with conn:
        async for page in conn.pull(cursor): ...

API connectors are built directly. The portal connectors (gov12315, blackcat)
are imported lazily, so the API side never loads Playwright; they are built as
`Cls(config, runtime=portal_runtime, ledger=ledger)`. With `portal_runtime=None`
the portal connector starts (and closes, in `aclose`) a runtime of its own.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from connectors.base import Connector, PushLedger
from connectors.config import SourceConfig, SourcesConfig, source_config
from core.errors import ConfigError
from core.schema import Source, to_local

#: source → "module:Class"
CONNECTORS: dict[Source, str] = {
    Source.APP: "connectors.app:AppConnector",
    Source.SMS: "connectors.sms:SmsConnector",
    Source.CALLCENTER: "connectors.callcenter:CallCenterConnector",
    Source.GOV12315: "connectors.gov12315:Gov12315Connector",
    Source.BLACKCAT: "connectors.blackcat:BlackcatConnector",
}
PORTALS = frozenset({Source.GOV12315, Source.BLACKCAT})


def connector_class(source: Source | str) -> type[Connector]:
    """The connector class of a source (imported on first use)."""
    try:
        key = Source(source)
    except ValueError:
        raise ConfigError(f"unknown source {source!r}", hint=f"one of {', '.join(s.value for s in Source)}") from None
    module, _, name = CONNECTORS[key].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"connector {CONNECTORS[key]} is not available: {exc}", source=key.value) from None


def make_connector(source: Source | str, *, config: SourceConfig | SourcesConfig | None = None,
                   ledger: PushLedger | None = None, portal_runtime: Any = None, **kwargs: Any) -> Connector:
    """Build the connector of `source` from its configuration.

    `config`: the source's `SourceConfig`, the whole `SourcesConfig`, or None to
    read `config/sources.yaml` (with `HUB_SOURCE_URLS` applied). `ledger`: the
    push ledger (SMS needs one in production). `portal_runtime`: a shared
    `connectors.portal.PortalRuntime` for the two portals. Extra keyword
    arguments go to the connector (tests pass `transport=`).
    """
    key = Source(source)
    cls = connector_class(key)
    cfg = source_config(key, config)
    if not cfg.enabled:
        raise ConfigError(f"source {key.value} is disabled in config/sources.yaml", source=key.value)
    if key in PORTALS:
        return cls(cfg, runtime=portal_runtime, ledger=ledger, **kwargs)  # type: ignore[call-arg]
    return cls(cfg, ledger=ledger, **kwargs)  # type: ignore[call-arg]


def backfill_cursor(source: Source | str, since: datetime, until: datetime | None = None) -> Any:
    """A cursor that makes `pull()` re-read `source` from `since` (for backfills).

    `until` is accepted for the flow's signature but not applied: a pull always
    reads up to now (landing skips versions already stored, so the extra is free).
    The SMS gateway cannot seek by time: its backfill re-reads the uplink from
    the beginning. Naive `since` is taken as Asia/Shanghai.
    """
    key = Source(source)
    local = to_local(since).replace(tzinfo=None)
    stamp = local.strftime("%Y-%m-%d %H:%M:%S")
    if key is Source.APP:
        return {"hwm": None, "run": {"since": to_local(since).isoformat(), "cursor": None, "max_seen": None}}
    if key is Source.CALLCENTER:
        return {"hwm": None, "run": {"since": stamp, "page": 1, "max_seen": None}}
    if key is Source.SMS:
        return {"mo_cursor": None}
    # Portals: their watermark cursor (connectors.portal.watermark); the list walk goes back from it.
    return {"watermark": stamp, "seen": {}, "complete": True}

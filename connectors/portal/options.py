"""What a portal connector reads from its `SourceConfig`, resolved once: URLs, credentials, selectors, waits.

Selectors and paths are the connector's defaults with the `portal:` section of
`config/sources.yaml` laid over them (so a markup change is an edit there, not a
release); retries follow the source's `retry:` section, like the API sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import SecretStr

from connectors.config import PortalConfig, SourceConfig
from connectors.retry import RetryPolicy
from core.errors import ConfigError
from core.secrets import resolve_secret


@dataclass(frozen=True)
class PortalOptions:
    """Everything a portal connector reads from configuration."""

    source: str
    base_url: str
    username: str = ""
    password: SecretStr = field(default_factory=lambda: SecretStr(""))
    portal: PortalConfig = field(default_factory=PortalConfig)
    #: Playwright selectors by role name: the connector's defaults with the configured ones over them
    selectors: Mapping[str, str] = field(default_factory=dict)
    #: URL paths relative to base_url (login, list, detail with `{id}`), defaults with the configured ones over them
    paths: Mapping[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: records older than watermark minus this are not looked at again (late arrivals inside it are caught)
    overlap: timedelta = timedelta(minutes=120)

    @classmethod
    def from_config(cls, cfg: SourceConfig, *, default_selectors: Mapping[str, str],
                    default_paths: Mapping[str, str]) -> PortalOptions:
        """Resolve a portal source's section (credentials are references, resolved here)."""
        if cfg.kind != "portal":
            raise ConfigError(f"source {cfg.source} is configured as kind {cfg.kind!r}, its connector is a portal",
                              source=cfg.source)
        portal = cfg.portal or PortalConfig()
        # a missing password is refused at login (AuthError), where the operator looks for it
        password = resolve_secret(cfg.credentials.get("password"), what=f"{cfg.source}.credentials.password")
        return cls(source=cfg.source, base_url=cfg.base_url, username=cfg.plain("username") or "",
                   password=password or SecretStr(""), portal=portal,
                   selectors={**default_selectors, **{k: v for k, v in portal.selectors.items() if v}},
                   paths={**default_paths, **portal.paths}, retry=cfg.retry.build(),
                   overlap=timedelta(minutes=cfg.overlap_minutes))

    def selector(self, name: str) -> str:
        """The configured selector for `name` (ConfigError naming the key when absent)."""
        try:
            return self.selectors[name]
        except KeyError:
            raise ConfigError(f"no selector {name!r} configured", source=self.source,
                              hint=f"add portal.selectors.{name} to the {self.source} entry of config/sources.yaml"
                              ) from None

    def url(self, path_name: str, **kw: object) -> str:
        """Absolute URL of a configured path (`detail` takes `id=`)."""
        try:
            path = self.paths[path_name]
        except KeyError:
            raise ConfigError(f"no path {path_name!r} configured", source=self.source) from None
        if path.startswith(("http://", "https://")):
            return path.format(**kw)
        return self.base_url.rstrip("/") + "/" + path.format(**kw).lstrip("/")

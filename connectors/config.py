"""`config/sources.yaml`: where each source lives, how to authenticate, how hard to pull.

    sources:
      app:
        kind: api
        base_url: "env:HUB_APP_URL|http://127.0.0.1:8402"
        credentials: {client_id: "env:HUB_APP_CLIENT_ID|hub-demo", client_secret: "env:...|..."}
        page_size: 100
        rate_limit: {per_second: 20, burst: 10}
        timeouts: {connect: 5, read: 30, write: 30, pool: 5}
        retry: {attempts: 5, total_seconds: 60}
        overlap_minutes: 10
        options: {token_path: /oauth/token}       # the connector's own knobs (its `Options` model)
      gov12315:
        kind: portal
        portal: {parallel_pages: 4, selectors: {...}, paths: {...}}

Every section is validated as a whole: an unknown key or a wrong type names the
source and the field. Credentials are references (`env:NAME|default`,
`prefect-secret:BLOCK`), never literal secrets; the defaults are the sandbox's
published demo credentials. The JSON file named by `HUB_SOURCE_URLS` (what
`hub sandbox serve --urls-file` writes) overrides the base URLs, so one variable
points the hub at a sandbox. `connector: package.module:Class` names a connector
that lives outside `connectors/` (the default is `connectors.<source>`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.http import HttpClient, RequestAuth, Timeouts, TokenBucket
from connectors.redact import Redactor
from connectors.retry import RetryPolicy
from core.configfile import cached_config
from core.errors import ConfigError
from core.schema import Source
from core.secrets import resolve_plain, resolve_secret
from core.settings import get_settings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeoutsConfig(_Section):
    """httpx timeouts (seconds)."""

    connect: float = Field(default=5.0, gt=0)
    read: float = Field(default=30.0, gt=0)
    write: float = Field(default=30.0, gt=0)
    pool: float = Field(default=5.0, gt=0)

    def build(self) -> Timeouts:
        """The HTTP layer's shape."""
        return Timeouts(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class RetryConfig(_Section):
    """Bounds of the retry layer (`connectors.retry`): attempts AND total seconds, backoff."""

    attempts: int = Field(default=5, ge=1, le=20)
    total_seconds: float = Field(default=60.0, gt=0)
    backoff_initial: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=20.0, ge=0)
    retry_after_max: float = Field(default=60.0, ge=0)

    def build(self) -> RetryPolicy:
        """The retry layer's policy."""
        return RetryPolicy(**self.model_dump())


class RateLimitConfig(_Section):
    """Requests per second to the source (token bucket)."""

    per_second: float = Field(default=10.0, gt=0)
    burst: int = Field(default=5, ge=1)

    def build(self) -> TokenBucket:
        """A fresh token bucket."""
        return TokenBucket(self.per_second, self.burst)


class PortalConfig(_Section):
    """The browser side of a portal source (Playwright): selectors, paths, parallelism, waits."""

    #: see connectors.portal.codes (sandbox | env:NAME | file:PATH | prompt | python:mod:attr)
    code_provider: str = "sandbox"
    #: Playwright selectors by role name (CSS, `xpath=...`, `text=...`); merged over the connector defaults
    selectors: dict[str, str] = Field(default_factory=dict)
    #: URL paths relative to base_url (login, list, detail with `{id}`), merged over the connector defaults
    paths: dict[str, str] = Field(default_factory=dict)
    #: detail pages opened at once (one tab each); 1 = sequential
    parallel_pages: int = Field(default=4, ge=1, le=16)
    #: upper bound on list pages / "加载更多" clicks per run (a runaway guard, not a page size)
    max_list_pages: int = Field(default=2000, ge=1)
    #: wait for a required element this long before declaring the portal changed
    element_timeout_ms: float = Field(default=4000, gt=0)
    #: navigation timeout; a hung page is a transient error
    navigation_timeout_ms: float = Field(default=15000, gt=0)


class SourceConfig(_Section):
    """One source's section of `config/sources.yaml`."""

    source: Source
    kind: Literal["api", "portal"] = "api"
    enabled: bool = True
    #: `package.module:Class` of the connector when it is not `connectors.<source>`
    connector: str | None = None
    base_url: str
    #: name → reference (`env:NAME|default`); resolved on use by `secret()` / `plain()`
    credentials: dict[str, str] = Field(default_factory=dict)
    page_size: int = Field(default=100, ge=1, le=1000)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    max_connections: int = Field(default=10, ge=1, le=100)
    #: incremental pull re-reads this much before the high-water mark (late and same-minute records)
    overlap_minutes: float = Field(default=10.0, ge=0)
    #: the connector's own options, validated by its `Options` model
    options: dict[str, Any] = Field(default_factory=dict)
    #: portal sources: the browser side
    portal: PortalConfig | None = None

    def secret(self, name: str) -> SecretStr:
        """Resolve credential `name` to a SecretStr (ConfigError when missing or empty)."""
        ref = self.credentials.get(name)
        value = resolve_secret(ref, what=f"{self.source}.credentials.{name}") if ref else None
        if value is None or not value.get_secret_value():
            raise ConfigError(f"credential {name!r} is not set", source=self.source,
                              hint=f"set sources.{self.source}.credentials.{name} in config/sources.yaml "
                                   "or the environment variable it names")
        return value

    def plain(self, name: str, default: str | None = None) -> str | None:
        """Resolve a non-secret credential (client id, access key id, username)."""
        ref = self.credentials.get(name)
        return resolve_plain(ref) if ref else default

    def secret_values(self) -> list[str]:
        """The resolved values of every secret-looking credential (for the redactor)."""
        out = []
        for name, ref in self.credentials.items():
            if any(w in name for w in ("secret", "password", "token", "key")):
                value = resolve_secret(ref, what=name)
                if value is not None:
                    out.append(value.get_secret_value())
        return out


class SourcesConfig(_Section):
    """Every configured source, by key."""

    sources: dict[Source, SourceConfig]

    def __getitem__(self, source: str) -> SourceConfig:
        try:
            return self.sources[Source(source)]
        except (KeyError, ValueError):
            raise ConfigError(f"source {source!r} is not configured",
                              hint=f"add it to config/sources.yaml (configured: {', '.join(self.sources)})") from None


def default_path() -> Path:
    """`config/sources.yaml` in the configuration directory in force."""
    return get_settings().config_dir / "sources.yaml"


def read_urls_file(path: Path | str) -> dict[str, str]:
    """The `{source: base_url}` JSON written by `hub sandbox serve --urls-file`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"HUB_SOURCE_URLS names {p}, which does not exist",
                          hint="start `hub sandbox serve --urls-file` first or unset HUB_SOURCE_URLS") from None
    except ValueError as exc:
        raise ConfigError(f"{p} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{p} must hold a JSON object {{source: base_url}}")
    return {str(k): str(v) for k, v in doc.items()}


def load_sources(path: Path | str | None = None, *, urls_file: Path | str | None = None,
                 overrides: dict[str, str] | None = None) -> SourcesConfig:
    """Read and validate `config/sources.yaml`, applying base-URL overrides.

    Order: the YAML's `base_url` (a reference resolved now), then the JSON file
    named by `urls_file` or `HUB_SOURCE_URLS`, then `overrides` (tests).
    """
    p = Path(path) if path else default_path()
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{p} not found", hint="the checkout ships config/sources.yaml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}") from None
    raw_sources = dict(doc.get("sources") or {})
    urls: dict[str, str] = {}
    uf = urls_file if urls_file is not None else get_settings().source_urls
    if uf:
        urls.update(read_urls_file(uf))
    urls.update(overrides or {})
    sections: dict[str, Any] = {}
    for key, section in raw_sources.items():
        section = dict(section or {})
        section["source"] = key
        base = urls.get(str(key)) or resolve_plain(section.get("base_url"))
        if base:
            section["base_url"] = base.rstrip("/")
        sections[key] = section
    try:
        return SourcesConfig.model_validate({"sources": sections})
    except ValidationError as exc:
        raise ConfigError(f"{p}: {_short(exc)}", hint="fix config/sources.yaml") from None


def current_sources() -> SourcesConfig:
    """`config/sources.yaml` as in force now: cached until the file, the URLs file or the settings change."""
    settings = get_settings()
    path = settings.config_dir / "sources.yaml"
    urls = settings.source_urls
    return _cached_sources(str(path), _mtime(path), str(urls) if urls else "", _mtime(urls) if urls else 0)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0  # a missing file is reported by load_sources itself


@cached_config
def _cached_sources(path: str, mtime: int, urls: str, urls_mtime: int) -> SourcesConfig:
    return load_sources(path, urls_file=urls or None)


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


def build_client(cfg: SourceConfig, *, auth: RequestAuth | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> HttpClient:
    """The source's `HttpClient`: its timeouts, retry bounds, rate limit and connection limit."""
    return HttpClient(cfg.source, cfg.base_url, timeouts=cfg.timeouts.build(), retry=cfg.retry.build(),
                      rate_limit=cfg.rate_limit.build(), auth=auth, redactor=Redactor(cfg.secret_values()),
                      max_connections=cfg.max_connections, transport=transport)

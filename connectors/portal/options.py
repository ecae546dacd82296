"""A portal source's configuration, as the portal layer needs it.

Built from the source's entry in `config/sources.yaml` (a dict or the HTTP
layer's config model): base URL, credential references, the code provider
spec, the `selectors:` map (a markup change is an edit here, not a release),
URL paths, parallelism and the incremental-pull overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core.errors import ConfigError
from core.secrets import resolve_plain, resolve_secret


class PortalOptions(BaseModel):
    """Everything a portal connector reads from configuration."""

    model_config = ConfigDict(extra="ignore")

    source: str
    base_url: str
    username: str = ""
    password: SecretStr = SecretStr("")
    #: see connectors.portal.codes (sandbox | env:NAME | file:PATH | prompt | python:mod:attr)
    code_provider: str = "sandbox"
    #: Playwright selectors by role name (CSS, `xpath=...`, `text=...`); merged over the connector defaults
    selectors: dict[str, str] = Field(default_factory=dict)
    #: URL paths relative to base_url (login, list, detail with `{id}`), merged over the connector defaults
    paths: dict[str, str] = Field(default_factory=dict)
    #: detail pages opened at once (one tab each); 1 = sequential
    parallel_pages: int = Field(default=4, ge=1, le=16)
    #: records older than watermark minus this are not looked at again (late arrivals inside it are caught)
    overlap_minutes: float = Field(default=120, ge=0)
    #: upper bound on list pages / "加载更多" clicks per run (a runaway guard, not a page size)
    max_list_pages: int = Field(default=2000, ge=1)
    #: wait for a required element this long before declaring the portal changed
    element_timeout_ms: float = 4000
    #: navigation timeout; a hung page is a transient error
    navigation_timeout_ms: float = 15000
    #: attempts per navigation on 5xx/429/timeouts, and the total time they may take
    max_attempts: int = Field(default=5, ge=1)
    max_retry_seconds: float = 30.0
    backoff_base_seconds: float = 0.25
    #: default 协商方式 when an update carries none (gov12315)
    default_method: str = "电话协商"

    def selector(self, name: str) -> str:
        """The configured selector for `name` (ConfigError naming the key when absent)."""
        try:
            return self.selectors[name]
        except KeyError:
            raise ConfigError(f"no selector {name!r} configured", source=self.source,
                              hint=f"add selectors.{name} to the {self.source} entry of config/sources.yaml") from None

    def url(self, path_name: str, **kw: Any) -> str:
        """Absolute URL of a configured path (`detail` takes `id=`)."""
        try:
            path = self.paths[path_name]
        except KeyError:
            raise ConfigError(f"no path {path_name!r} configured", source=self.source) from None
        if path.startswith(("http://", "https://")):
            return path.format(**kw)
        return self.base_url.rstrip("/") + "/" + path.format(**kw).lstrip("/")


_SKIP = {"selectors", "paths", "auth", "credentials", "options", "portal"}


def build_options(source: str, cfg: Any, *, default_selectors: Mapping[str, str],
                  default_paths: Mapping[str, str], base_url: str | None = None) -> PortalOptions:
    """Turn a source's config (dict, pydantic model or PortalOptions) into PortalOptions.

    Accepts the flat shape (`username`, `password`, `selectors`, ...) and the nested one
    (`auth: {username, password}` / `credentials:`, `options:` / `portal:` for tuning keys).
    Credential values are references (`env:NAME|default`), resolved here.
    """
    if isinstance(cfg, PortalOptions):
        return cfg
    raw = _as_dict(cfg)
    flat: dict[str, Any] = {k: v for k, v in raw.items() if k not in _SKIP}
    for nested in ("options", "portal"):
        flat.update(_as_dict(raw.get(nested)) or {})
    auth = _as_dict(raw.get("auth")) or _as_dict(raw.get("credentials")) or {}
    for key, names in (("username", ("username", "account")), ("password", ("password",)),
                       ("code_provider", ("code_provider",))):
        for name in names:
            if auth.get(name) and not flat.get(key):
                flat[key] = auth[name]
    retry = _as_dict(raw.get("retry"))
    if retry.get("attempts") and "max_attempts" not in flat:
        flat["max_attempts"] = retry["attempts"]
    if retry.get("total_seconds") and "max_retry_seconds" not in flat:
        flat["max_retry_seconds"] = retry["total_seconds"]
    user = flat.get("username")
    flat["username"] = (resolve_plain(_reveal(user)) or "") if user is not None else ""
    pwd = flat.get("password")
    if isinstance(pwd, SecretStr) and not _is_ref(pwd.get_secret_value()):
        secret: SecretStr | None = pwd  # already resolved by the HTTP layer's config model
    else:
        secret = resolve_secret(_reveal(pwd), what=f"{source}.password") if pwd else None
    flat["password"] = secret or SecretStr("")
    url = base_url or flat.get("base_url") or flat.get("url")
    url = resolve_plain(str(url)) if url else None
    if not url:
        raise ConfigError(f"{source}: no base_url configured", source=source)
    flat["base_url"] = url
    flat["source"] = source
    flat["selectors"] = {**default_selectors, **{k: str(v) for k, v in (_as_dict(raw.get("selectors")) or {}).items()
                                                 if v not in (None, "")}}
    flat["paths"] = {**default_paths, **(_as_dict(raw.get("paths")) or {})}
    return PortalOptions.model_validate(flat)


def _is_ref(v: str) -> bool:
    return v.startswith(("env:", "prefect-secret:"))


def _reveal(v: Any) -> str:
    return v.get_secret_value() if isinstance(v, SecretStr) else str(v)


def _as_dict(v: Any) -> dict[str, Any]:
    if v is None:
        return {}
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, BaseModel):
        return v.model_dump()
    if hasattr(v, "__dict__"):
        return {k: x for k, x in vars(v).items() if not k.startswith("_")}
    return {}

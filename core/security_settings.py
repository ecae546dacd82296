"""Security knobs from `HUB_*` environment variables, apart from `core.settings` (issue 16).

- `HUB_SANDBOX=1`: the explicit sandbox mode of the demo, the tests and the benchmarks. Only then
  do the published demo defaults after `|` in `env:NAME|default` references resolve.
- `HUB_MAX_BODY_BYTES`: the largest request body the web app reads (default 1 MiB; 413 above).
- `HUB_TRUSTED_PROXIES`: comma-separated addresses (or CIDR networks) of reverse proxies whose
  `X-Forwarded-For` / `X-Forwarded-Proto` are believed; nobody's by default.
- `HUB_OPENAPI_URL`: where the API spec is served (default `/openapi.json`; empty: not served).
- `HUB_LOGIN_FREE_FAILURES`, `HUB_LOGIN_BASE_DELAY`, `HUB_LOGIN_MAX_DELAY`: the sign-in throttle.
"""

from __future__ import annotations

import ipaddress
import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.configfile import cached_config

_TRUE = frozenset({"1", "true", "yes", "on"})


def sandbox_mode() -> bool:
    """Whether the hub runs in the explicit sandbox mode (`HUB_SANDBOX=1`); read on every call."""
    return os.environ.get("HUB_SANDBOX", "").strip().lower() in _TRUE


class SecuritySettings(BaseSettings):
    """Request limits, trusted proxies, the spec URL and the sign-in throttle (see the module doc)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body read (413 above).")
    trusted_proxies: str = Field(default="", description="Comma-separated proxy addresses or networks.")
    openapi_url: str = Field(default="/openapi.json", description="Where the spec is served; empty: nowhere.")
    login_free_failures: int = Field(default=3, ge=1, description="Failed sign-ins before delays start.")
    login_base_delay: float = Field(default=2.0, gt=0, description="First delay (seconds), doubled each failure.")
    login_max_delay: float = Field(default=900.0, gt=0, description="Longest delay (seconds).")

    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The trusted proxies as networks (a bare address is a /32 or /128)."""
        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()]

    def is_trusted_proxy(self, host: str | None) -> bool:
        """Whether a peer address belongs to a configured proxy."""
        if not host:
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.proxy_networks())


@cached_config
def get_security_settings() -> SecuritySettings:
    """The security settings of this process (cached; `reload_config()` re-reads them)."""
    return SecuritySettings()

"""Which configured secrets are unsafe outside the sandbox mode (issue 16, item 1).

`insecure_secrets()` walks the operator configuration (`teams.yaml`, `sources.yaml`,
`chase.yaml` under `HUB_CONFIG_DIR`; the walker is `core.secrets.env_references`, shared
with `hub doctor`) for `env:NAME|published-default` references under secret-named keys
and names each variable that is unset or set to the published demo value. `hub api serve` refuses to start while the list is not empty (and the
connectors, dispatchers and callbacks refuse the same references one by one, via
`core.secrets.resolve_secret`); `hub doctor` may call it too. In the sandbox mode
(`HUB_SANDBOX=1`) the list is empty.
"""

from __future__ import annotations

from core.errors import InsecureSecret
from core.secrets import env_references, secret_problem
from core.settings import get_settings

#: the configuration files that hold secret references
FILES = ("teams.yaml", "sources.yaml", "chase.yaml")


def insecure_secrets() -> list[str]:
    """Names of the environment variables that must be set (or changed) before production use."""
    names: list[str] = []
    for ref in env_references(get_settings().config_dir, FILES):
        if ref.secret_named and secret_problem(ref.ref) is not None and ref.name not in names:
            names.append(ref.name)
    return names


def require_safe_secrets(what: str) -> None:
    """Raise `InsecureSecret` naming every unsafe variable (a server or worker about to start calls it)."""
    names = insecure_secrets()
    if names:
        raise InsecureSecret(names[0], f"{what} will not start: these secrets are unset or equal to a published "
                                       f"demo default: {', '.join(names)} (HUB_SANDBOX=1 only for the sandbox)")

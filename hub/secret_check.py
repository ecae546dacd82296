"""Which configured secrets are unsafe outside the sandbox mode (issue 16, item 1).

`insecure_secrets()` walks the operator configuration (`teams.yaml`, `sources.yaml`,
`chase.yaml` under `HUB_CONFIG_DIR`) for `env:NAME|published-default` references
of secrets and names each variable that is unset or set to the published demo
value. `hub api serve` refuses to start while the list is not empty (and the
connectors, dispatchers and callbacks refuse the same references one by one, via
`core.secrets.resolve_secret`); `hub doctor` may call it too. In the sandbox mode
(`HUB_SANDBOX=1`) the list is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.configfile import read_yaml
from core.errors import InsecureSecret
from core.secrets import secret_problem
from core.settings import get_settings

#: the configuration files that hold secret references
FILES = ("teams.yaml", "sources.yaml", "chase.yaml")
#: a key whose name contains one of these holds a secret (the connectors' redactor uses the same words)
SECRET_WORDS = ("secret", "password", "token", "key")


def _refs(node: Any, key: str = "") -> Iterator[str]:
    """Every `env:` reference under a secret-looking key, depth first."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _refs(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v, key)
    elif isinstance(node, str) and node.startswith("env:") and any(w in key.lower() for w in SECRET_WORDS):
        yield node


def insecure_secrets() -> list[str]:
    """Names of the environment variables that must be set (or changed) before production use."""
    names: list[str] = []
    for file in FILES:
        doc = read_yaml(get_settings().config_dir / file, missing_ok=True)
        for ref in _refs(doc):
            name = ref[4:].partition("|")[0]
            if secret_problem(ref) is not None and name not in names:
                names.append(name)
    return names


def require_safe_secrets(what: str) -> None:
    """Raise `InsecureSecret` naming every unsafe variable (a server or worker about to start calls it)."""
    names = insecure_secrets()
    if names:
        raise InsecureSecret(names[0], f"{what} will not start: these secrets are unset or equal to a published "
                                       f"demo default: {', '.join(names)} (HUB_SANDBOX=1 only for the sandbox)")

"""Resolve secret references from configuration: `env:NAME` or `env:NAME|default`.

Literal secrets never live in the repo; a default after `|` is only for the
sandbox's published demo credentials, and it resolves only in the explicit
sandbox mode (`HUB_SANDBOX=1`, see `core.security_settings`). Outside it, a
reference with a published default whose variable is unset, or set to that very
default, raises `InsecureSecret` naming the variable (`env:NAME|` with an empty
default stays optional). `prefect-secret:BLOCK` reads a Prefect Secret block
(only imported when used, so connectors stay Prefect-free otherwise).
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from core.errors import ConfigError, InsecureSecret
from core.security_settings import sandbox_mode


def resolve_secret(ref: str | None, *, what: str = "secret") -> SecretStr | None:
    """Turn a reference into a SecretStr (None when the reference is empty)."""
    if ref is None or ref == "":
        return None
    if ref.startswith("env:"):
        problem = secret_problem(ref)
        if problem is not None:
            raise InsecureSecret(ref[4:].partition("|")[0], f"{what}: {problem}")
        name, _, default = ref[4:].partition("|")
        value = os.environ.get(name) or (default if sandbox_mode() else "")
        return SecretStr(value) if value else None
    if ref.startswith("prefect-secret:"):
        # Prefect's secret store, only for such references; a sync call also works inside a running loop
        from prefect.blocks.system import Secret
        from prefect.utilities.asyncutils import run_coro_as_sync

        block = run_coro_as_sync(Secret.aload(ref.split(":", 1)[1]))
        return SecretStr(str(block.get())) if block is not None else None
    raise ConfigError(f"{what}: literal values are not allowed here; use env:NAME or prefect-secret:BLOCK",
                      hint="move the value into an environment variable")


def resolve_plain(ref: str | None) -> str | None:
    """Like resolve_secret for non-secret values that may come from the environment (URLs)."""
    if ref is None:
        return None
    if ref.startswith("env:"):
        name, _, default = ref[4:].partition("|")
        return os.environ.get(name, default) or None
    return ref


def secret_problem(ref: str) -> str | None:
    """Why an `env:` reference is not safe to use outside the sandbox mode (None: it is, or sandbox mode).

    Only references with a published default (`env:NAME|demo-value`) are judged: their variable
    must be set, and not to the published value. The message names the variable, never a value.
    """
    if not ref.startswith("env:") or sandbox_mode():
        return None
    name, _, default = ref[4:].partition("|")
    if not default:
        return None
    value = os.environ.get(name)
    if not value:
        return f"{name} is not set (the default in the configuration is a published demo value, " \
               "used only with HUB_SANDBOX=1)"
    if value == default:
        return f"{name} equals the published demo default; set a secret of your own"
    return None

"""Resolve secret references from configuration: `env:NAME` or `env:NAME|default`.

Literal secrets never live in the repo; a default after `|` is only for the
sandbox's published demo credentials. `prefect-secret:BLOCK` reads a Prefect
Secret block (only imported when used, so connectors stay Prefect-free otherwise).
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from core.errors import ConfigError


def resolve_secret(ref: str | None, *, what: str = "secret") -> SecretStr | None:
    """Turn a reference into a SecretStr (None when the reference is empty)."""
    if ref is None or ref == "":
        return None
    if ref.startswith("env:"):
        name, _, default = ref[4:].partition("|")
        value = os.environ.get(name, default)
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

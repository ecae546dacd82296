"""Resolve secret references from configuration: `env:NAME` or `env:NAME|default`.

Literal secrets never live in the repo; a default after `|` is only for the
sandbox's published demo credentials, and it resolves only in the explicit
sandbox mode (`HUB_SANDBOX=1`, see `core.security_settings`). Outside it, a
reference with a published default whose variable is unset, or set to that very
default, raises `InsecureSecret` naming the variable (`env:NAME|` with an empty
default stays optional). `prefect-secret:BLOCK` reads a Prefect Secret block
(only imported when used, so connectors stay Prefect-free otherwise).

`env_references` is the one walker of the operator config files' references: `hub doctor`
judges every one of them, `hub.secret_check` those under secret-named keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core.configfile import read_yaml
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


#: a key whose name contains one of these holds a secret (the connectors' redactor uses the same words)
SECRET_WORDS = ("secret", "password", "token", "key")
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True)
class EnvRef:
    """One `env:NAME[|default]` value of an operator config file."""

    #: the file's name (e.g. `sources.yaml`)
    file: str
    #: the mapping key it is the value of (a list item: its list's key)
    key: str
    name: str
    #: after `|`: None without one, "" for an optional reference, else a published (demo) default
    default: str | None
    ref: str

    @property
    def secret_named(self) -> bool:
        """Whether its key names a secret (`SECRET_WORDS`)."""
        return any(w in self.key.lower() for w in SECRET_WORDS)


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, value) of every `env:` string under `node`, depth first in document order."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)
    elif isinstance(node, str) and node.startswith("env:"):
        yield key, node


def env_references(config_dir: Path, files: Iterable[str] | None = None) -> list[EnvRef]:
    """Every `env:` reference of the operator config files (`files`, else every `*.yaml`), in file order.

    Comments are not read (the files are parsed); a value that is no well-formed reference
    (`env:lower-case`) is skipped. Invalid YAML raises `ConfigError` naming the file.
    """
    paths = [config_dir / f for f in files] if files is not None else sorted(config_dir.glob("*.yaml"))
    out: list[EnvRef] = []
    for path in paths:
        for key, ref in _walk(read_yaml(path, missing_ok=True)):
            name, bar, default = ref[4:].partition("|")
            if _NAME.fullmatch(name):
                out.append(EnvRef(path.name, key, name, default if bar else None, ref))
    return out

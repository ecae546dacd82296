"""Playwright `storage_state` files: one per source, under `<HUB_HOME>/portal-sessions/`, mode 0600.

A portal session (cookies + local storage) is as good as a password for as long
as it lives, so the file is created owner-only from the first byte (no window
where it is world-readable), replaced atomically, and never lives in the repo
(`var/` is git-ignored; HUB_HOME points elsewhere in tests and deployments).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from core.logs import get_logger

if TYPE_CHECKING:
    from playwright.async_api import StorageState

log = get_logger(__name__)

SESSIONS_DIR = "portal-sessions"
FAILURES_DIR = "portal-failures"


def sessions_dir(home: Path) -> Path:
    """The owner-only folder holding every source's storage_state file."""
    d = Path(home) / SESSIONS_DIR
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    return d


def state_path(home: Path, source: str) -> Path:
    """Where `source`'s storage_state lives."""
    return sessions_dir(home) / f"{source}.json"


def load_state(path: Path) -> StorageState | None:
    """The saved storage_state, or None when absent/unreadable (then we simply log in again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable portal session file %s: %s", path.name, type(exc).__name__)
        return None
    return cast("StorageState", data) if isinstance(data, dict) else None


def save_state(path: Path, state: StorageState) -> None:
    """Write `state` to `path` with 0600 permissions, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    # O_CREAT with mode 0600: the file is never readable by others, even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
        os.chmod(tmp, 0o600)  # umask cannot widen it, but an existing tmp could have other bits
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def forget_state(path: Path) -> None:
    """Delete a saved session (after the portal refused it, or on operator request)."""
    path.unlink(missing_ok=True)

"""The sandbox's published demo credentials (not secrets: documented in sandbox/README.md).

A view over the registry: each system module declares its own (`SYSTEM.credentials`).
"""

from __future__ import annotations

from sandbox.systems import SYSTEMS

CREDENTIALS: dict[str, dict[str, str]] = {key: system.credentials for key, system in SYSTEMS.items()}

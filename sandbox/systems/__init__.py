"""The simulated source systems: one module per system, each declaring `SYSTEM` (see sandbox/README.md).

`SYSTEMS` maps each key to its `SimulatedSystem`, found by looking through the
modules of this package for a `SYSTEM` attribute, ordered by `SimulatedSystem.order`
(gov12315, blackcat, app, sms, callcenter): the order sets ports and the
generator's draws. Adding a system is adding a module here; nothing else names it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from sandbox.system import SimulatedSystem

# Event kinds the state itself runs (sandbox.state.SandboxState._run_event); a system cannot take them.
SHARED_EVENTS = frozenset({"burst", "message"})


def _discover() -> dict[str, SimulatedSystem]:
    found: list[SimulatedSystem] = []
    for info in pkgutil.iter_modules(__path__):
        system = getattr(importlib.import_module(f"{__name__}.{info.name}"), "SYSTEM", None)
        if system is None:
            continue  # a helper module (common)
        if not isinstance(system, SimulatedSystem) or system.key != info.name:
            raise TypeError(f"{__name__}.{info.name}.SYSTEM must be a SimulatedSystem with key {info.name!r}")
        found.append(system)
    found.sort(key=lambda s: s.order)
    orders = [s.order for s in found]
    if len(set(orders)) != len(orders):
        raise ValueError(f"two simulated systems share an order: {orders}")
    kinds = [k for s in found for k in s.events]
    if len(set(kinds)) != len(kinds) or SHARED_EVENTS & set(kinds):
        raise ValueError(f"event kinds must be unique and not {sorted(SHARED_EVENTS)}: {kinds}")
    return {s.key: s for s in found}


SYSTEMS: Mapping[str, SimulatedSystem] = MappingProxyType(_discover())
SOURCES: tuple[str, ...] = tuple(SYSTEMS)

__all__ = ["SYSTEMS", "SOURCES", "SHARED_EVENTS", "SimulatedSystem"]

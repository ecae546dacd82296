"""Run every benchmark module in this folder with its defaults (`python -m bench`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path


def main() -> int:
    """Import each `bench/<name>.py` and call its `main()`; non-zero if any fails."""
    failed = 0
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"bench.{info.name}")
        fn = getattr(mod, "main", None)
        if fn is None:
            continue
        print(f"== bench.{info.name}", flush=True)
        # scripts differ: some take argv (pass none, so their defaults apply), some take nothing
        rc = fn([]) if inspect.signature(fn).parameters else fn()
        failed += bool(rc)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The deployments' pull step: run each flow from *this worker's* checkout, wherever it is.

`prefect deploy` resolves every `{{ $VAR }}` of `prefect.yaml` from the deployer's environment,
so a `set_working_directory: "{{ $HUB_REPO_DIR }}"` step stores the deployer's path. This step
has nothing to resolve at deploy time: on the worker it changes into `HUB_REPO_DIR` when that is
set in the worker's environment, else into the checkout the worker's venv has installed
(the editable install of `make setup`).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import ConfigError
from core.settings import PROJECT_ROOT


def enter_checkout(directory: str | None = None) -> dict[str, str]:
    """Pull step: chdir to the worker's checkout (`directory`, else HUB_REPO_DIR, else the installed one)."""
    path = Path(directory or os.environ.get("HUB_REPO_DIR") or PROJECT_ROOT)
    if not (path / "flows").is_dir():
        raise ConfigError(f"{path} is not a checkout of the hub (no flows/ folder)",
                          hint="set HUB_REPO_DIR on the worker to its checkout of the deployed commit")
    os.chdir(path)
    return {"directory": str(path)}

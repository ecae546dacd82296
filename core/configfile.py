"""Read an operator-edited YAML file into a pydantic model, with errors that name file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, *, missing_ok: bool = False) -> Any:
    """The parsed YAML document (None for a missing file when `missing_ok`)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        if missing_ok:
            return None
        raise ConfigError(f"{path}: not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc


def load_model(path: Path, model: type[M], *, missing_ok: bool = False) -> M:
    """Validate `path` as `model`; a missing file gives the model's defaults when `missing_ok`."""
    data = read_yaml(path, missing_ok=missing_ok)
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {loc}: {first['msg']}") from exc

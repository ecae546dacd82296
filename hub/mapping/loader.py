"""Loading mapping files: validated at load, errors name the file and the field."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from connectors.registry import source_keys
from core.configfile import on_reload
from core.errors import ConfigError, MappingFileError
from core.settings import get_settings
from hub.mapping.engine import CompiledMapping, MappingSet
from hub.mapping.spec import MappingSpec
from hub.mapping.transforms import build_transform


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc) or "(file)"


def load_mapping_file(path: Path) -> CompiledMapping:
    """Parse, validate and compile one mapping file (MappingFileError when it is wrong)."""
    blob = path.read_bytes()
    try:
        doc = yaml.safe_load(blob)
    except yaml.YAMLError as exc:
        raise MappingFileError(path, "(yaml)", str(exc).replace("\n", " ")) from exc
    if not isinstance(doc, dict):
        raise MappingFileError(path, "(file)", "a mapping file is a YAML map")
    try:
        spec = MappingSpec.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise MappingFileError(path, _loc(err["loc"]), err["msg"]) from exc
    if spec.source != path.stem:
        raise MappingFileError(path, "source", f"file {path.name} declares source {spec.source!r}")
    # Transforms are built (arguments checked) here, once: errors name the field.
    for target, f in spec.fields.items():
        for i, item in enumerate(f.transforms):
            try:
                build_transform(item)
            except (ValueError, TypeError) as exc:
                raise MappingFileError(path, f"fields.{target}.transforms[{i}]", str(exc)) from exc
    return CompiledMapping(spec, hashlib.sha256(blob).hexdigest(), str(path))


def load_mappings(directory: Path | str | None = None, *, require_all: bool = False) -> MappingSet:
    """Load every `<source>.yaml` in the mappings directory (default `Settings.mappings_dir`)."""
    root = Path(directory) if directory is not None else get_settings().mappings_dir
    if not root.is_dir():
        raise ConfigError(f"mappings directory {root} does not exist", hint="set HUB_MAPPINGS_DIR")
    out = MappingSet()
    for path in sorted(root.glob("*.yaml")):
        m = load_mapping_file(path)
        out.mappings[m.source] = m
    if require_all:
        missing = [s for s in source_keys() if s not in out.mappings]
        if missing:
            raise MappingFileError(root, "(directory)", f"no mapping for {', '.join(missing)}")
    return out


_cache: dict[str, tuple[tuple[Any, ...], MappingSet]] = {}
_lock = threading.Lock()
on_reload(_cache.clear)


def _signature(root: Path) -> tuple[Any, ...]:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.glob("*.yaml")))


def get_mappings(directory: Path | str | None = None) -> MappingSet:
    """Loaded mappings, cached until a file in the directory changes (so a fix is seen by replay)."""
    root = Path(directory) if directory is not None else get_settings().mappings_dir
    sig = _signature(root) if root.is_dir() else ()
    key = str(root.resolve())
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == sig:
            return hit[1]
        ms = load_mappings(root)
        _cache[key] = (sig, ms)
        return ms

"""Declarative mappings: `mappings/<source>.yaml` → compiled callables → `core.schema.Ticket`.

Public API::

    get_mappings(dir=None) -> MappingSet          # cached, reloaded when a file changes
    load_mappings(dir=None, require_all=False)     # validate + compile (MappingFileError)
    MappingSet.map(raw) -> MapOutcome              # ticket | failure(field, message) | non-complaint kind
    transforms.register("name")                    # named Python transform (escape hatch)
"""

from core.errors import MappingFileError
from hub.mapping.engine import CompiledMapping, MapOutcome, MappingFailure, MappingSet
from hub.mapping.loader import get_mappings, load_mapping_file, load_mappings
from hub.mapping.transforms import TransformError, register

__all__ = [
    "CompiledMapping", "MapOutcome", "MappingFailure", "MappingFileError", "MappingSet", "TransformError",
    "get_mappings", "load_mapping_file", "load_mappings", "register",
]

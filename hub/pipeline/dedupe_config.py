"""`config/dedupe.yaml`: how case linking compares a customer's tickets (window, shingles, scores, topics)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.configfile import cached_config
from core.errors import ConfigError
from core.settings import get_settings


class DedupeConfig(BaseModel):
    """`config/dedupe.yaml`."""

    model_config = ConfigDict(extra="forbid")
    window_days: float = Field(default=7, gt=0)
    shingle: int = Field(default=2, ge=1, le=8)
    num_perm: int = Field(default=64, ge=8, le=512)
    bands: int = Field(default=32, ge=1)
    threshold: float = Field(default=0.5, gt=0, le=1)
    max_chars: int = Field(default=2000, ge=20)
    amount_score: float = Field(default=0.6, ge=0, le=1)
    topic_score: float = Field(default=0.6, ge=0, le=1)
    close_hours: float = Field(default=3, ge=0)
    disjoint_topic_factor: float = Field(default=0.5, ge=0, le=1)
    match_on: list[str] = Field(default_factory=lambda: ["phone_hash", "id_hash"])
    #: per customer key, only the most recent N tickets of the window are candidates (bounded work per batch)
    max_candidates: int = Field(default=200, ge=2)
    topics: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def window(self) -> timedelta:
        """How far apart in time a customer's tickets may be and still share a case."""
        return timedelta(days=self.window_days)


@cached_config
def _load_config(path: str, mtime: float) -> DedupeConfig:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        cfg = DedupeConfig.model_validate(doc)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: {exc}".replace("\n", " ")) from exc
    if cfg.num_perm % cfg.bands:
        raise ConfigError(f"{path}: bands must divide num_perm")
    return cfg


def load_config(path: Path | None = None) -> DedupeConfig:
    """The dedupe settings (defaults when the file is absent)."""
    p = path or get_settings().config_dir / "dedupe.yaml"
    return _load_config(str(p), p.stat().st_mtime) if p.exists() else DedupeConfig()

"""Hub configuration from `HUB_*` environment variables (pydantic-settings).

Every knob an operator may turn lives here, with a default that works for the
embedded demo (SQLite under `var/`, config and mappings from the checkout).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.configfile import cached_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Process-wide settings. Read once; `core.configfile.reload_config()` re-reads them."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    home: Path = Field(default=PROJECT_ROOT / "var", description="Working folder: DB, keys, sessions, artifacts.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under home.")
    pii_key: SecretStr | None = Field(default=None, description="Fernet key (urlsafe base64, 32 bytes).")
    config_dir: Path = Field(default=PROJECT_ROOT / "config")
    mappings_dir: Path = Field(default=PROJECT_ROOT / "mappings")
    source_urls: Path | None = Field(default=None, description="JSON {source: base URL} overriding config.")
    chromium_path: Path = Field(default=Path("/usr/bin/chromium"))
    timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    console_base_url: str = Field(default="http://127.0.0.1:8300", description="Links in notifications.")
    judge_model: Path | None = Field(default=None, description="The judgement model artifact (default data/judge/model.json).")

    @property
    def db_url(self) -> str:
        """The database URL in force (explicit, or SQLite under `home`)."""
        return self.database_url or f"sqlite:///{self.home / 'hub.db'}"

    @property
    def key_file(self) -> Path:
        """The PII key file under `home`, used when HUB_PII_KEY is not set."""
        return self.home / "pii.key"


@cached_config
def get_settings() -> Settings:
    """The settings of this process (cached)."""
    return Settings()

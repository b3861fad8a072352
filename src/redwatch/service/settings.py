"""Service settings: where the store is, where reports and models go, how often the
scheduler looks, which alerting file to read, and the request limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from redwatch.config import Settings

DEFAULT_MAX_BODY_BYTES = 1_048_576


class ServiceSettings(BaseModel):
    """Everything `create_app` needs; built from the CLI options and the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path
    db_url: str
    alerts_file: Path | None = None
    tick_s: float = Field(default=2.0, gt=0, le=3600)
    workers: int = Field(default=1, ge=1, le=16)
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    incident_window_s: float = Field(default=3600.0, gt=0)
    run_worker: bool = True
    # where model, data, key and signature files named through the API must live; None
    # allows any path the service's user can read (fine on a workstation, not on a server)
    files_root: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ServiceSettings:
        """REDWATCH_HOME and REDWATCH_DB_URL as every command reads them, plus overrides."""
        base = Settings.from_env(env)
        return cls.model_validate({"home": base.home, "db_url": base.db_url, **overrides})

    @property
    def reports_dir(self) -> Path:
        """Where each campaign's reports and evidence are written (one folder per job)."""
        return self.home / "campaigns"

    @property
    def models_dir(self) -> Path:
        """Where registered model versions (e.g. hardened models) are kept."""
        return self.home / "models"

"""The one settings object: paths, device, logging and server options.

Every value can be set from the environment with the ``GEN3D_`` prefix
(``GEN3D_DEVICE=cpu``, ``GEN3D_PORT=9000``, ``GEN3D_DATA_DIR=/data``). Library code takes
settings as an argument (the server passes them as a FastAPI dependency); nothing reads the
environment at import time.

Example::

    >>> from gen3d.settings import Settings
    >>> Settings(device="cpu", port=9000).port
    9000
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gen3d.errors import Gen3DError

ENV_PREFIX = "GEN3D_"

# "auto", "cpu", "mps", "cuda" or "cuda:N": the devices torch can run gen3d on.
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _default_data_dir() -> Path:
    """Where models, datasets and results live unless GEN3D_DATA_DIR says otherwise."""
    return Path.home() / ".local" / "share" / "gen3d"


class SettingsError(Gen3DError, ValueError):
    """A setting (usually an environment variable) has a value gen3d cannot use."""

    exit_code = 2


class Settings(BaseSettings):
    """gen3d's settings; each field is also the environment variable ``GEN3D_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
    )

    # --- paths -----------------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Root for models, datasets, job results and caches.",
    )
    model_path: Path | None = Field(
        default=None,
        description="Pipeline folder to load (save_pretrained layout); None: the default model.",
    )
    results_dir: Path | None = Field(
        default=None, description="Where generated assets are written; default DATA_DIR/results."
    )

    # --- compute -----------------------------------------------------------------------------
    device: str = Field(
        default="auto",
        description="'auto' (CUDA when available, else CPU), 'cpu', 'mps', 'cuda' or 'cuda:N'.",
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="'auto' is bfloat16 on CUDA where supported, else float32."
    )

    # --- logging -----------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # --- server ------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address `gen3d serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `gen3d serve` binds to.")
    queue: Literal["embedded", "distributed"] = Field(
        default="embedded",
        description="'embedded': SQLite job store, worker in process. "
        "'distributed': Celery on Redis with workers on other machines.",
    )
    database_url: str | None = Field(
        default=None,
        description="Job store URL (SQLAlchemy); default a SQLite file in DATA_DIR.",
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Celery broker for the distributed queue."
    )
    max_upload_mb: float = Field(
        default=20.0, gt=0, le=1024, description="Largest accepted image upload, in MiB."
    )

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DEVICE_PATTERN.match(value):
            raise ValueError("expected auto, cpu, mps, cuda or cuda:N")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def resolved_results_dir(self) -> Path:
        return self.results_dir if self.results_dir is not None else self.data_dir / "results"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'jobs.sqlite3'}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus explicit overrides).

    Raises:
        SettingsError: one line per bad value, naming the environment variable.
    """
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "?"
            given = f" (got {item['input']!r})" if item["type"] != "extra_forbidden" else ""
            problems.append(f"{ENV_PREFIX}{name.upper()}: {item['msg']}{given}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None

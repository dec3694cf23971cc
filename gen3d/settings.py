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

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gen3d.errors import Gen3DError, closest_name

ENV_PREFIX = "GEN3D_"
#: GEN3D_ variables that are not settings: the batch CLI's API key, and what the scripts
#: (bootstrap, test, gen3d) and the tests read.
OTHER_VARIABLES = frozenset(
    {
        "GEN3D_API_KEY",
        "GEN3D_CHROMIUM",
        "GEN3D_EXTRAS",
        "GEN3D_GLTF_VALIDATOR_DIR",
        "GEN3D_TEST_WORKERS",
        "GEN3D_TORCH",
        "GEN3D_VENV",
    }
)

# "auto", "cpu", "mps", "cuda" or "cuda:N": the devices torch can run gen3d on.
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_KEY_HASH_PATTERN = re.compile(r"^sha256:[0-9a-fA-F]{64}$")


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
    broker_queue: str = Field(
        default="gen3d",
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="Name of the broker queue the API sends jobs to and workers read.",
    )
    visibility_timeout: float = Field(
        default=3600.0,
        ge=10.0,
        description="Seconds before the broker hands an unacknowledged job message to another "
        "worker (a machine that vanished); a dead worker's job is re-sent sooner, when its "
        "lease runs out.",
    )
    max_upload_mb: float = Field(
        default=20.0, gt=0, le=1024, description="Largest accepted request body, in MiB."
    )
    max_image_pixels: int = Field(
        default=4096 * 4096,
        ge=64,
        le=100_000_000,
        description="Most pixels an uploaded image may have (refused before decoding).",
    )
    max_mesh_faces: int = Field(
        default=1_000_000,
        ge=100,
        le=10_000_000,
        description="Most faces an uploaded mesh (to paint or start from) may have.",
    )
    lease_seconds: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="A running job whose worker has not renewed it for this long is re-queued.",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="SHA-256 hashes of the accepted API keys ('sha256:<hex>', comma-separated "
        "or a JSON list; `gen3d api-key` makes one). Empty: no key needed.",
    )
    rate_limit_per_minute: float = Field(
        default=60.0,
        ge=0,
        description="Submissions per minute per API key (per client address without keys); "
        "0: no limit.",
    )
    rate_limit_burst: int = Field(
        default=60, ge=1, description="Submissions a key may make at once before the rate applies."
    )
    max_queued_per_key: int = Field(
        default=200,
        ge=1,
        description="Unfinished jobs one API key (or everyone, without keys) may have at a time.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call the API from (comma-separated; '*' for any).",
    )

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        if not _DEVICE_PATTERN.match(value):
            raise ValueError("expected auto, cpu, mps, cuda or cuda:N")
        return value

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """A JSON list or comma-separated text (the environment holds text)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _check_key_hashes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _KEY_HASH_PATTERN.match(item):
                raise ValueError(
                    "API keys are stored as hashes, 'sha256:' and 64 hex digits "
                    "(run `gen3d api-key` to make a key and its hash)"
                )
        return [item.lower() for item in value]

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


def unknown_variables(environ: Mapping[str, str] = os.environ) -> list[str]:
    """One line per ``GEN3D_`` variable that is no setting (a typo, say, which pydantic-settings
    would silently ignore), naming the setting it is closest to."""
    expected = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    lines = []
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX) or variable in expected:
            continue
        # Compared without the prefix, which every name shares and would make alike.
        meant = closest_name(variable.removeprefix(ENV_PREFIX).lower(), Settings.model_fields)
        hint = f" (did you mean {ENV_PREFIX}{meant.upper()}?)" if meant else ""
        lines.append(f"{variable} is not a gen3d setting and is ignored{hint}")
    return lines

"""Request and response bodies of the service (pydantic; they drive the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GenerateRequest(BaseModel):
    """``POST /generate`` with JSON: a prompt and the pipeline's options."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=1000, examples=["a red wooden chair"])
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Same seed, same asset.")
    steps: int | None = Field(None, ge=1, le=200, description="Sampling steps.")
    guidance: float | None = Field(None, ge=0, le=30, description="Guidance scale (1 = none).")
    resolution: int | None = Field(None, ge=32, le=512, description="Mesh grid resolution.")
    face_count: int | None = Field(None, ge=0, le=2_000_000, description="0 keeps all faces.")
    texture_size: int | None = Field(None, ge=0, le=4096, description="0: vertex colours.")
    format: Literal["glb", "obj", "ply"] = "glb"

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the prompt is empty: describe the object, e.g. 'a red chair'")
        return value

    @field_validator("texture_size")
    @classmethod
    def _texture_size(cls, value: int | None) -> int | None:
        if value is not None and 0 < value < 64:
            raise ValueError("use 0 (vertex colours) or at least 64")
        return value


class JobView(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    stage: str | None = None
    progress: float = 0.0
    queue_position: int | None = Field(None, description="Queued jobs ahead of this one.")
    attempts: int = 0
    request: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    links: dict[str, str] = Field(default_factory=dict)


class JobList(BaseModel):
    items: list[JobView]
    total: int
    limit: int
    offset: int

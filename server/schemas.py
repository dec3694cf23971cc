"""Request and response bodies of the service (pydantic; they drive the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gen3d.pipeline import (
    MIN_TARGET_FACES,
    MIN_TEXTURE_SIZE,
    OPTION_RANGES,
    GenerationOptions,
    PipelineError,
)

# What str.strip() removes (all of it below U+3001). A prompt needs one other character: the
# validators below say so in words, this pattern says it to clients reading the schema.
_WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
NOT_BLANK_PATTERN = "[^" + "".join(f"\\u{ord(ch):04x}" for ch in _WHITESPACE) + "]"


def _option(name: str, kind: type) -> Any:
    """A request field with the pipeline's own range and help (one table, gen3d.pipeline)."""
    limits = OPTION_RANGES[name]
    return Field(None, ge=kind(limits.low), le=kind(limits.high), description=limits.help)


def _zero_or_at_least(name: str, minimum: int) -> Any:
    """An integer option where 0 means "none" and 1 to ``minimum - 1`` is refused (the
    pipeline's check); the schema says so, so that a client generating requests from it (or
    a schema fuzzer) never builds one the API refuses."""
    high = int(OPTION_RANGES[name].high)
    return Field(
        None,
        ge=0,
        le=high,
        description=f"{OPTION_RANGES[name].help}; 0, or {minimum} and more",
        json_schema_extra={
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 0},
                {"type": "integer", "minimum": minimum, "maximum": high},
                {"type": "null"},
            ]
        },
    )


class _Options(BaseModel):
    """The pipeline's options, shared by both ways of asking."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="Same seed, same asset.")
    steps: int | None = _option("steps", int)
    guidance: float | None = _option("guidance", float)
    resolution: int | None = _option("resolution", int)
    face_count: int | None = _zero_or_at_least("face_count", MIN_TARGET_FACES)
    texture_size: int | None = _zero_or_at_least("texture_size", MIN_TEXTURE_SIZE)
    format: Literal["glb", "obj", "ply", "usdz"] = "glb"

    @field_validator(
        "seed", "steps", "guidance", "resolution", "face_count", "texture_size", mode="before"
    )
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # pydantic reads JSON true/false as 1/0 for numbers; a boolean here is a mistake.
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value

    @model_validator(mode="after")
    def _pipeline_accepts_the_options(self) -> _Options:
        # The pipeline's own check (e.g. texture_size 0 or >= 64), so that a request the API
        # accepts never fails later in the worker for its options.
        options = {name: getattr(self, name) for name in OPTION_RANGES if hasattr(self, name)}
        try:
            GenerationOptions(**{k: v for k, v in options.items() if v is not None})
        except PipelineError as error:
            raise ValueError(str(error)) from None
        return self


class GenerateRequest(_Options):
    """``POST /generate`` with JSON: a prompt and the pipeline's options."""

    prompt: str = Field(
        min_length=1,
        max_length=1000,
        examples=["a red wooden chair"],
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the prompt is empty: describe the object, e.g. 'a red chair'")
        return value


class FormOptions(_Options):
    """The text fields of ``POST /generate`` with ``multipart/form-data``, beside its files:
    an ``image`` file or a ``prompt`` field (one of them), and an optional ``mesh`` file to
    start from or to paint."""

    prompt: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="What to make, when no image is sent (with a mesh: how to paint it).",
        json_schema_extra={"pattern": NOT_BLANK_PATTERN},
    )
    refine_steps: int | None = _option("refine_steps", int)
    view: str | None = Field(
        None,
        max_length=40,
        description="With an image that is refined (refine_steps not 0): the camera the image was "
        "taken from: auto (estimated from the image, the default), reference (the model's "
        "training view), or AZIMUTH,ELEVATION[,ROLL] in degrees (e.g. 210,15 or 210,15,-5).",
        examples=["auto", "210,15"],
    )
    symmetry: bool | None = Field(
        None,
        description="With an image that is refined: carry the photo's colours round a round "
        "shape, or mirror them onto the far half of a mirror-symmetric one, where the photo "
        "does not show it (default true; false keeps the model's colours there, e.g. for a "
        "label on one side).",
    )
    strength: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="With a mesh: how far from it sampling starts (0 keeps it, 1 ignores it; "
        "default 0.5, or 0.9 with keep_geometry).",
    )
    up: Literal["y", "z"] | None = Field(
        None, description="With a mesh: its up axis (z for Z-up OBJ/STL files; default y)."
    )
    new_uvs: bool | None = Field(
        None,
        description="With keep_geometry: unwrap new UVs even when the mesh has its own (kept "
        "by default when its UVs lie inside the unit square, in one part or in one atlas "
        "its parts share).",
    )
    keep_geometry: bool | None = Field(
        None,
        description="With a mesh: keep its geometry exactly and only paint it "
        "(as `gen3d texture`).",
    )

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the prompt is empty: describe the object, e.g. 'a red chair'")
        return value.strip() if value is not None else None

    @field_validator("view")
    @classmethod
    def _a_view(cls, value: str | None) -> str | None:
        from gen3d.image_view import ViewError, parse_view, view_text

        if value is None:
            return None
        try:
            return view_text(parse_view(value))
        except ViewError as error:
            raise ValueError(str(error)) from None


def form_schema() -> dict[str, Any]:
    """The OpenAPI schema of the multipart form: the files (``image``, ``mesh``) and the
    text fields."""
    schema = FormOptions.model_json_schema(ref_template="#/components/schemas/{model}")
    image = {
        "type": "string",
        "format": "binary",
        "description": "PNG, JPEG, WebP or HEIC of one object (alpha or a plain background); "
        "send this or a prompt.",
    }
    mesh = {
        "type": "string",
        "format": "binary",
        "description": "Optional: a mesh (.glb, .obj, .ply, .stl or .off, by its file name) "
        "to start from, or to paint with keep_geometry.",
    }
    # A form field is text or absent, never JSON null: drop the null branch of optionals,
    # keeping every other branch (texture_size is 0, or 64 and more).
    for prop in schema["properties"].values():
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1:
            prop.update(branches[0])
        elif branches:
            prop["anyOf"] = branches
        if prop.get("default", 0) is None:
            del prop["default"]
    schema["properties"] = {"image": image, "mesh": mesh, **schema["properties"]}
    schema["title"] = "GenerateForm"
    return schema


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; ``code`` is stable, ``detail`` is for people."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, str]] | None = None


JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]


class JobView(BaseModel):
    id: str
    status: JobStatus
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

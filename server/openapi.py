"""The OpenAPI document: FastAPI's, plus what its decorators cannot say.

``POST /generate`` reads its body by content type (JSON, or a multipart form with an image
or a prompt, and optionally a mesh), so both request bodies are written in here; every error
response is declared as RFC 9457 problem details (``application/problem+json``), the codes
each operation can answer with are listed, and the stable error codes are documented in the
description.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from server.problems import CODES, PROBLEM
from server.schemas import GenerateRequest, ProblemDetails, form_schema

REF = "#/components/schemas/{model}"
ERROR_DESCRIPTIONS = {
    "401": "An API key is needed, or the one given is not known.",
    "404": "No such job (or not the caller's).",
    "410": "The file was recorded but is no longer stored.",
    "413": "The body or the image is too large.",
    "415": "Not JSON or multipart; or not a PNG, JPEG, WebP or HEIC image, or not a mesh file.",
    "422": "A field is missing, malformed or out of range.",
    "429": "Too many submissions or unfinished jobs; see Retry-After.",
    "503": "The store or the job queue is unreachable, or the model is loading.",
}
GENERATE_ERRORS = ("401", "413", "415", "422", "429", "503")
JOB_ERRORS = ("401", "404", "422")


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    codes = "\n".join(f"- `{code}`: {meaning}" for code, meaning in CODES.items())
    description = (
        "Jobs that turn a prompt or an image into a textured 3D asset, or paint a mesh you "
        "send. Submit with "
        "`POST /generate`, follow `GET /jobs/{id}` or its event stream, download the files "
        "its `links` name.\n\nErrors are `application/problem+json` with a stable `code`:\n" + codes
    )
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (GenerateRequest, ProblemDetails):
        body = model.model_json_schema(ref_template=REF)
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    components["GenerateForm"] = form_schema()
    # FastAPI's own validation error shapes are never sent: problem details are.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)

    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            wanted = GENERATE_ERRORS if path == "/generate" else ()
            if "{job_id}" in path or path == "/jobs":
                wanted = JOB_ERRORS + (("410",) if "/files/" in path else ())
            if path == "/readyz":
                wanted = ("503",)
            for status in wanted:
                responses.setdefault(status, {})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["description"] = ERROR_DESCRIPTIONS.get(status, "An error.")
                    response["content"] = {
                        PROBLEM: {"schema": {"$ref": REF.format(model="ProblemDetails")}}
                    }
            if operation.pop("x-gen3d-request-bodies", False):
                operation["requestBody"] = _generate_bodies()
    app.openapi_schema = schema
    return schema


def _generate_bodies() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF.format(model="GenerateRequest")}},
            "multipart/form-data": {
                "schema": {"$ref": REF.format(model="GenerateForm")},
                "encoding": {
                    "image": {"contentType": "image/png, image/jpeg, image/webp, image/heic"},
                    "mesh": {"contentType": "application/octet-stream, model/gltf-binary"},
                },
            },
        },
    }

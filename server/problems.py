"""RFC 9457 problem details: every error the API gives is ``application/problem+json`` with
a stable machine-readable ``code`` beside the human ``detail``."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


class Problem(Exception):
    """An API error: HTTP status, stable code, human detail (and extra members, headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers, self.extra = headers or {}, extra


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": f"about:blank#{code}", "title": code.replace("_", " "), "status": status}
    body |= {"code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


#: the codes clients can rely on (documented in the OpenAPI description)
CODES = {
    "invalid_request": "a field is missing, malformed or out of range (422)",
    "idempotency_key_reused": "the Idempotency-Key was used for a different request (422)",
    "unsupported_media_type": "POST /generate takes JSON or multipart/form-data (415)",
    "unsupported_image_type": "the upload is not a PNG, JPEG, WebP or HEIC image (415)",
    "invalid_image": "the image cannot be decoded or shows no object (422)",
    "image_too_large": "the image has more pixels than the server accepts (413)",
    "unsupported_mesh_type": "the mesh is not a GLB, OBJ, PLY, STL or OFF file (415)",
    "invalid_mesh": "the mesh cannot be read or used (no faces, too many, no volume) (422)",
    "payload_too_large": "the request body is larger than the server accepts (413)",
    "unauthorized": "an API key is needed, or the one given is not known (401)",
    "rate_limited": "too many submissions; retry after Retry-After seconds (429)",
    "too_many_jobs": "this key has too many unfinished jobs; wait for some to finish (429)",
    "job_not_found": "no such job, or not yours (404)",
    "file_not_found": "the job has no such file (404)",
    "file_gone": "the file was recorded but is no longer stored (410)",
    "store_unreachable": "the job store cannot be reached (503)",
    "broker_unreachable": "distributed mode: the job queue cannot be reached (503)",
    "model_not_ready": "the model is loading or failed to load (503)",
}

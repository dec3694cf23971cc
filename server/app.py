"""The FastAPI app: ``create_app(settings)``; ``gen3d serve`` runs it with uvicorn.

Handlers only read and write the job store: the model runs in the worker (embedded: a thread
of this process that loads the pipeline once). Errors are RFC 9457 problem details
(``application/problem+json``) with a stable ``code``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException

from gen3d import __version__
from gen3d.settings import Settings, load_settings
from server.schemas import GenerateRequest, JobList, JobView
from server.store import FINAL_STATES, STATES, IdempotencyConflict, Job, JobStore
from server.worker import EmbeddedWorker

PROBLEM = "application/problem+json"
CONTENT_TYPES = {
    ".glb": "model/gltf-binary",
    ".obj": "model/obj",
    ".mtl": "model/mtl",
    ".ply": "application/octet-stream",
    ".png": "image/png",
}
POLL_SECONDS = 1


class Problem(Exception):
    """An RFC 9457 problem: HTTP status, stable code, human detail."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def _problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"about:blank#{code}", "title": code.replace("_", " "), "status": status}
    body |= {"code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _view(store: JobStore, job: Job) -> JobView:
    links = {"self": f"/jobs/{job.id}", "cancel": f"/jobs/{job.id}/cancel"}
    for name in (job.result or {}).get("files", []):
        links[name] = f"/jobs/{job.id}/files/{name}"
    # JobView ignores the store's internal fields (owner, worker, key, lease bookkeeping).
    fields = dataclasses.asdict(job) | {"queue_position": store.queue_position(job.id)}
    return JobView.model_validate(fields | {"links": links})


def _default_loader(settings: Settings) -> Callable[[], Any]:
    def load() -> Any:
        from gen3d.pipeline import Pipeline, resolve_model_path

        return Pipeline.from_pretrained(
            resolve_model_path(None, settings), device=settings.device, dtype=settings.dtype
        )

    return load


def create_app(
    settings: Settings | None = None,
    *,
    load_pipeline: Callable[[], Any] | None = None,
    start_worker: bool = True,
) -> FastAPI:
    """The service. ``load_pipeline`` (default: the settings' model) runs once, in the
    worker; ``start_worker=False`` serves the API over the store alone (distributed mode's
    web nodes, tests)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = JobStore(settings.resolved_database_url)
        results = settings.resolved_results_dir
        results.mkdir(parents=True, exist_ok=True)
        worker = EmbeddedWorker(store, load_pipeline or _default_loader(settings), results)
        app.state.store, app.state.worker, app.state.results = store, worker, results
        if start_worker:
            worker.start()
        yield
        if start_worker:
            worker.stop()
        store.close()

    app = FastAPI(
        title="gen3d",
        version=__version__,
        summary="Text or image to textured 3D assets, as jobs.",
        lifespan=lifespan,
    )

    @app.exception_handler(Problem)
    async def _on_problem(request: Request, error: Problem) -> JSONResponse:
        return _problem(error.status, error.code, error.detail, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in error.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return _problem(422, "invalid_request", detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def _on_http(request: Request, error: HTTPException) -> JSONResponse:
        return _problem(error.status_code, "http_error", str(error.detail))

    def store_of(request: Request) -> JobStore:
        return request.app.state.store

    def job_or_404(request: Request, job_id: str) -> Job:
        job = store_of(request).get(job_id)
        if job is None:
            raise Problem(404, "job_not_found", f"no job {job_id}")
        return job

    @app.post("/generate", status_code=202, response_model=JobView, tags=["jobs"])
    def generate(
        body: GenerateRequest,
        request: Request,
        response: Response,
        idempotency_key: str | None = Header(None, max_length=255),
    ) -> JobView:
        """Queue a generation job; answers 202 with the job and its ``Location``. The same
        ``Idempotency-Key`` with the same body returns the same job."""
        store = store_of(request)
        try:
            job, _ = store.create(
                body.model_dump(exclude_none=True), idempotency_key=idempotency_key
            )
        except IdempotencyConflict as error:
            raise Problem(422, "idempotency_key_reused", str(error)) from None
        response.headers["Location"] = f"/jobs/{job.id}"
        response.headers["Retry-After"] = str(POLL_SECONDS)
        return _view(store, job)

    @app.get("/jobs/{job_id}", response_model=JobView, tags=["jobs"])
    def get_job(job_id: str, request: Request, response: Response) -> JobView:
        job = job_or_404(request, job_id)
        if job.status not in FINAL_STATES:
            response.headers["Retry-After"] = str(POLL_SECONDS)
        return _view(store_of(request), job)

    @app.get("/jobs", response_model=JobList, tags=["jobs"])
    def list_jobs(
        request: Request,
        status: str | None = Query(None, description=f"One of {', '.join(STATES)}."),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> JobList:
        if status is not None and status not in STATES:
            raise Problem(422, "invalid_request", f"status must be one of {', '.join(STATES)}")
        store = store_of(request)
        jobs, total = store.list(status=status, limit=limit, offset=offset)
        return JobList(
            items=[_view(store, j) for j in jobs], total=total, limit=limit, offset=offset
        )

    @app.post("/jobs/{job_id}/cancel", status_code=202, response_model=JobView, tags=["jobs"])
    def cancel_job(job_id: str, request: Request) -> JobView:
        """Cancel: a queued job at once, a running one at its next step; a finished job
        stays as it is."""
        job_or_404(request, job_id)
        store = store_of(request)
        return _view(store, store.request_cancel(job_id))

    @app.get("/jobs/{job_id}/files/{name}", tags=["jobs"])
    def job_file(job_id: str, name: str, request: Request) -> FileResponse:
        job = job_or_404(request, job_id)
        # Only the names the job recorded: no path can reach anything else.
        if name not in (job.result or {}).get("files", []):
            raise Problem(404, "file_not_found", f"job {job_id} has no file {name!r}")
        path = Path(request.app.state.results) / job.id / name
        if not path.is_file():
            raise Problem(410, "file_gone", f"{name} of job {job_id} is no longer stored")
        media = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return FileResponse(path, media_type=media, filename=name)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(request: Request) -> Any:
        worker: EmbeddedWorker = request.app.state.worker
        try:
            store_of(request).counts()
        except Exception as error:
            return _problem(503, "store_unreachable", f"{type(error).__name__}: {error}")
        if start_worker and not worker.ready.is_set():
            detail = worker.error or "the model is still loading"
            return _problem(503, "model_not_ready", detail)
        return {"status": "ready"}

    return app

"""The FastAPI app: ``create_app(settings)``; ``gen3d serve`` runs it with uvicorn.

Handlers only read and write the job store: the model runs in the worker (embedded: a thread
of this process that loads the pipeline once). Errors are RFC 9457 problem details
(``application/problem+json``) with a stable ``code`` (``server.problems.CODES``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

import gen3d
from gen3d import __version__
from gen3d.errors import closest_name
from gen3d.settings import Settings, load_settings
from server.events import event_id, job_events
from server.limits import BodyLimitMiddleware, RateLimiter
from server.metrics import HttpMetricsMiddleware, ServiceMetrics
from server.openapi import build_openapi
from server.problems import Problem, problem_response
from server.schemas import FormOptions, GenerateRequest, JobList, JobStatus, JobView
from server.security import Authenticator
from server.store import FINAL_STATES, IdempotencyConflict, Job, JobStore
from server.uploads import accept_image, accept_mesh
from server.worker import EmbeddedWorker

CONTENT_TYPES = {
    ".glb": "model/gltf-binary",
    ".obj": "model/obj",
    ".mtl": "model/mtl",
    ".ply": "application/octet-stream",
    ".usdz": "model/vnd.usdz+zip",
    ".png": "image/png",
}
POLL_SECONDS = 1
WEB_DIR = Path(__file__).parent / "web"
VIEWER_DIR = Path(gen3d.__file__).parent / "web"
MAX_FORM_FIELD_BYTES = 64 * 1024


def _view(store: JobStore, job: Job) -> JobView:
    links = {
        "self": f"/jobs/{job.id}",
        "events": f"/jobs/{job.id}/events",
        "cancel": f"/jobs/{job.id}/cancel",
    }
    for name in (job.result or {}).get("files", []):
        links[name] = f"/jobs/{job.id}/files/{name}"
    # JobView ignores the store's internal fields (owner, worker, key, lease bookkeeping).
    fields = dataclasses.asdict(job) | {"queue_position": store.queue_position(job.id)}
    return JobView.model_validate(fields | {"links": links})


def embedded_devices(settings: Settings) -> list[str]:
    """One embedded worker per GPU ('auto' or 'cuda' with several), else one on the device."""
    import torch

    if settings.device in ("auto", "cuda") and torch.cuda.is_available():
        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    return [settings.device]


def _default_loader(settings: Settings, device: str) -> Callable[[], Any]:
    def load() -> Any:
        from gen3d.pipeline import Pipeline, resolve_model_path

        return Pipeline.from_pretrained(
            resolve_model_path(None, settings), device=device, dtype=settings.dtype
        )

    return load


def _dispatcher(settings: Settings) -> Any:
    # Imported only in distributed mode: embedded installs need no Celery.
    from server.distributed import Dispatcher

    return Dispatcher(settings)


#: the file parts of a multipart request
FORM_FILES = ("image", "mesh")


def _check_form(options: FormOptions, files: dict[str, UploadFile]) -> None:
    """What one request may combine, before any upload is read: a prompt or an image (one),
    refinement (and its view and symmetry) only for an image, the mesh settings (strength,
    keep_geometry, up, new_uvs) only with a mesh."""
    if ("image" in files) == (options.prompt is not None):
        raise _invalid(
            [{"loc": ("image",), "msg": "send an image file or a prompt field (exactly one)"}]
        )
    if options.refine_steps and "image" not in files:
        raise _invalid(
            [{"loc": ("refine_steps",), "msg": "refine_steps needs an image to refine against"}]
        )
    # Without refine_steps an image job refines as the model's defaults say (the default
    # model does); the pipeline refuses a view it will not use.
    if options.view is not None and ("image" not in files or options.refine_steps == 0):
        message = (
            "view is the camera the image was taken from, for refinement: it goes with an "
            "image, and not with refine_steps 0"
        )
        raise _invalid([{"loc": ("view",), "msg": message}])
    if options.symmetry is not None and "image" not in files:
        message = "symmetry is how an image's refined colours reach the sides it does not show"
        raise _invalid([{"loc": ("symmetry",), "msg": message + ": it goes with an image"}])
    for name in ("strength", "keep_geometry", "up", "new_uvs"):
        if getattr(options, name) is not None and "mesh" not in files:
            raise _invalid([{"loc": (name,), "msg": f"{name} goes with a mesh file"}])


def _invalid(errors: list[dict[str, Any]], known: Collection[str] = ()) -> Problem:
    """422 naming each bad field (``loc`` without its ``body`` prefix). An unknown field is
    most often a typo: it names the ``known`` field it is closest to."""
    items = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        message = error["msg"]
        unknown = loc and error.get("type") == "extra_forbidden"
        meant = closest_name(loc[-1], known) if unknown else None
        if meant:
            message += f" (did you mean {meant!r}?)"
        items.append({"field": ".".join(loc) or "body", "message": message})
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in items)
    return Problem(422, "invalid_request", detail, errors=items)


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
    distributed = settings.queue == "distributed"
    # Distributed: this process only serves the API; `gen3d worker` processes run the jobs.
    start_worker = start_worker and not distributed
    metrics = ServiceMetrics()
    auth = Authenticator(settings.api_keys)
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = JobStore(settings.resolved_database_url)
        results = settings.resolved_results_dir
        results.mkdir(parents=True, exist_ok=True)
        loaders = (
            [load_pipeline]
            if load_pipeline is not None
            else [_default_loader(settings, device) for device in embedded_devices(settings)]
        )
        workers = [
            EmbeddedWorker(
                store, load, results, lease_seconds=settings.lease_seconds, metrics=metrics
            )
            for load in (loaders if start_worker else [])
        ]
        app.state.store, app.state.workers, app.state.results = store, workers, results
        app.state.dispatcher = _dispatcher(settings) if distributed else None
        for worker in workers:
            worker.start()
        yield
        for worker in workers:
            worker.stop()
        if app.state.dispatcher is not None:
            app.state.dispatcher.close()
        store.close()

    app = FastAPI(
        title="gen3d",
        version=__version__,
        summary="Text or image to textured 3D assets, as jobs.",
        lifespan=lifespan,
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    metrics.watch_store(lambda: app.state.store.counts())
    too_large = (
        f"the request body is larger than this server accepts ({settings.max_upload_mb:g} MiB)"
    )
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=int(settings.max_upload_mb * 2**20), detail=too_large
    )
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Idempotency-Key", "Content-Type"],
            expose_headers=["Location", "Retry-After"],
        )
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.mount("/vendor", StaticFiles(directory=VIEWER_DIR), name="vendor")

    @app.exception_handler(Problem)
    async def _on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            error.status, error.code, error.detail, headers=error.headers, **error.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problem = _invalid(list(error.errors()))
        return problem_response(422, problem.code, problem.detail, **problem.extra)

    @app.exception_handler(HTTPException)
    async def _on_http(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 413:
            return problem_response(413, "payload_too_large", too_large)
        # Keep the exception's headers (405's Allow, for one).
        return problem_response(
            error.status_code, "http_error", str(error.detail), headers=error.headers
        )

    def store_of(request: Request) -> JobStore:
        return request.app.state.store

    def owner_of(request: Request) -> str:
        return auth.owner(request)

    def job_or_404(request: Request, job_id: str, owner: str) -> Job:
        job = store_of(request).get(job_id)
        # Another key's job answers as if it did not exist: ids are not an oracle.
        if job is None or (auth.enabled and job.owner != owner):
            raise Problem(404, "job_not_found", f"no job {job_id}")
        return job

    async def read_generate_body(request: Request) -> dict[str, Any]:
        """The job request from JSON (a prompt) or multipart/form-data (an image or a prompt,
        and optionally a mesh)."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            try:
                body = GenerateRequest.model_validate_json(await request.body())
            except ValidationError as error:
                raise _invalid(list(error.errors()), GenerateRequest.model_fields) from None
            return body.model_dump(exclude_none=True)
        if media == "multipart/form-data":
            return await read_form(request)
        raise Problem(
            415,
            "unsupported_media_type",
            "send JSON with a prompt, or multipart/form-data with an image file or a prompt",
        )

    async def read_form(request: Request) -> dict[str, Any]:
        form = await request.form(max_files=2, max_fields=20, max_part_size=MAX_FORM_FIELD_BYTES)
        files: dict[str, UploadFile] = {}
        fields: dict[str, Any] = {}
        for name, value in form.multi_items():
            if name in files or name in fields:
                raise _invalid([{"loc": (name,), "msg": "expected one value"}])
            if name in FORM_FILES:
                if not isinstance(value, UploadFile):
                    raise _invalid([{"loc": (name,), "msg": "expected a file"}])
                files[name] = value
            elif isinstance(value, str):
                fields[name] = value
            elif name not in FormOptions.model_fields:
                files_go = f"a file in an unknown field; files go in {' or '.join(FORM_FILES)}"
                error = {"loc": (name,), "msg": files_go, "type": "extra_forbidden"}
                raise _invalid([error], FORM_FILES)
            else:
                raise _invalid([{"loc": (name,), "msg": "expected one text value"}])
        try:
            options = FormOptions.model_validate(fields)
        except ValidationError as error:
            known = [*FormOptions.model_fields, *FORM_FILES]
            raise _invalid(list(error.errors()), known) from None
        _check_form(options, files)
        payload = options.model_dump(exclude_none=True)
        if "image" in files:
            stored = await run_in_threadpool(
                accept_image,
                await files["image"].read(),
                max_pixels=settings.max_image_pixels,
                results_dir=request.app.state.results,
            )
            payload["image"] = stored.relative_path
        if "mesh" in files:
            stored = await run_in_threadpool(
                accept_mesh,
                await files["mesh"].read(),
                files["mesh"].filename or "",
                max_faces=settings.max_mesh_faces,
                results_dir=request.app.state.results,
            )
            payload["mesh"] = stored.relative_path
        return payload

    @app.post(
        "/generate",
        status_code=202,
        response_model=JobView,
        tags=["jobs"],
        openapi_extra={"x-gen3d-request-bodies": True},
    )
    async def generate(
        request: Request,
        response: Response,
        owner: str = Depends(owner_of),
        idempotency_key: str | None = Header(None, max_length=255),
    ) -> JobView:
        """Queue a generation job: JSON with a ``prompt``, or ``multipart/form-data`` with an
        ``image`` file or a ``prompt`` field, and optionally a ``mesh`` file to start from
        (``strength``) or to paint (``keep_geometry``); both take the options. Answers 202
        with the job and its ``Location``. The same ``Idempotency-Key`` with the same body
        returns the same job."""
        client = request.client.host if request.client else "unknown"
        limiter.take(owner if auth.enabled else f"addr:{client}")
        store = store_of(request)
        if await run_in_threadpool(store.unfinished, owner) >= settings.max_queued_per_key:
            raise Problem(
                429,
                "too_many_jobs",
                f"{settings.max_queued_per_key} jobs are unfinished already; wait for some",
                headers={"Retry-After": str(POLL_SECONDS * 10)},
            )
        payload = await read_generate_body(request)
        try:
            job, created = await run_in_threadpool(
                lambda: store.create(payload, owner=owner, idempotency_key=idempotency_key)
            )
        except IdempotencyConflict as error:
            raise Problem(422, "idempotency_key_reused", str(error)) from None
        dispatcher = request.app.state.dispatcher
        if created and dispatcher is None:
            for worker in request.app.state.workers:
                worker.wake()
        if created and dispatcher is not None:
            try:
                await run_in_threadpool(dispatcher.dispatch, job.id)
            except Exception as error:
                # Not accepted after all: the job is failed, so it cannot linger unsent.
                await run_in_threadpool(store.fail_queued, job.id, "the queue was unreachable")
                raise Problem(
                    503, "broker_unreachable", f"the job queue cannot be reached ({error})"
                ) from None
        response.headers["Location"] = f"/jobs/{job.id}"
        response.headers["Retry-After"] = str(POLL_SECONDS)
        return await run_in_threadpool(_view, store, job)

    @app.get("/jobs/{job_id}", response_model=JobView, tags=["jobs"])
    def get_job(
        job_id: str, request: Request, response: Response, owner: str = Depends(owner_of)
    ) -> JobView:
        job = job_or_404(request, job_id, owner)
        if job.status not in FINAL_STATES:
            response.headers["Retry-After"] = str(POLL_SECONDS)
        return _view(store_of(request), job)

    @app.get(
        "/jobs/{job_id}/events",
        tags=["jobs"],
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "``event: job`` with the job as JSON at every change, until "
                "it ends.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            204: {"description": "The client has already seen the job's final state."},
        },
    )
    def job_events_stream(
        job_id: str,
        request: Request,
        owner: str = Depends(owner_of),
        last_event_id: str | None = Header(None, max_length=200),
    ) -> Response:
        """Server-sent events of the job's progress until it ends (``EventSource``)."""
        job = job_or_404(request, job_id, owner)
        if job.final and last_event_id == event_id(job):
            return Response(status_code=204)
        store = store_of(request)
        stream = job_events(
            store, job_id, lambda current: _view(store, current), last_event_id=last_event_id
        )
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    @app.get("/jobs", response_model=JobList, tags=["jobs"])
    def list_jobs(
        request: Request,
        owner: str = Depends(owner_of),
        status: JobStatus | None = Query(None, description="Only jobs in this state."),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0, le=10**9),
    ) -> JobList:
        """Jobs, newest first (with API keys: the caller's own)."""
        store = store_of(request)
        jobs, total = store.list(
            status=status, owner=owner if auth.enabled else None, limit=limit, offset=offset
        )
        return JobList(
            items=[_view(store, j) for j in jobs], total=total, limit=limit, offset=offset
        )

    @app.post("/jobs/{job_id}/cancel", status_code=202, response_model=JobView, tags=["jobs"])
    def cancel_job(job_id: str, request: Request, owner: str = Depends(owner_of)) -> JobView:
        """Cancel: a queued job at once, a running one at its next step; a finished job
        stays as it is."""
        job_or_404(request, job_id, owner)
        store = store_of(request)
        return _view(store, store.request_cancel(job_id))

    @app.get("/jobs/{job_id}/files/{name}", tags=["jobs"])
    def job_file(
        job_id: str, name: str, request: Request, owner: str = Depends(owner_of)
    ) -> FileResponse:
        """A result file (``asset.glb``, ``preview.png``, ...) as the job's links name it."""
        job = job_or_404(request, job_id, owner)
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
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(request: Request) -> Any:
        """Ready for work: the store answers and (with an embedded worker) the model is
        loaded."""
        workers: list[EmbeddedWorker] = request.app.state.workers
        try:
            store_of(request).counts()
        except Exception as error:
            return problem_response(503, "store_unreachable", f"{type(error).__name__}: {error}")
        if request.app.state.dispatcher is not None:
            try:
                request.app.state.dispatcher.ping()
            except Exception as error:
                return problem_response(503, "broker_unreachable", str(error))
        for worker in workers:
            if not worker.ready.is_set():
                detail = worker.error or "the model is still loading"
                return problem_response(503, "model_not_ready", detail)
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    def web_page() -> HTMLResponse:
        return HTMLResponse((WEB_DIR / "index.html").read_text(encoding="utf-8"))

    return app

"""The job runner both queue modes share: claim a job, run the pipeline, record the result.

Progress goes to the store through ``heartbeat`` (which also renews the lease); when the
heartbeat says stop (a cancel, or a lost lease) the pipeline's callback returns False and the
pipeline stops within one step. A lease keeper thread renews the lease every third of its
length whatever the pipeline is doing (a long mesh or texture stage reports no steps): a
lease runs out only when the worker process is gone or hung, and then the job is re-queued.
Results go to ``results_dir/<job id>/``.

``EmbeddedWorker`` runs this loop in a thread of the server process, with the pipeline loaded
once; distributed workers (Celery) call ``run_job`` the same way.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gen3d.errors import Gen3DError
from gen3d.pipeline import OPTION_RANGES, GenerationCancelled, overall_progress
from gen3d.vocabulary import unfamiliar_warning
from server.metrics import ServiceMetrics
from server.store import CANCELED, FAILED, SUCCEEDED, Job, JobStore
from server.uploads import resolve_input

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class LeaseKeeper:
    """Renews a job's lease in the background; ``keep`` turns False once the store says stop
    (a cancel was asked for, or the lease was lost)."""

    def __init__(self, store: JobStore, job_id: str, worker: str, lease_seconds: float) -> None:
        self.store, self.job_id, self.worker = store, job_id, worker
        self.lease_seconds = lease_seconds
        self.keep = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gen3d-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3.0):
            try:
                self.keep = self.store.heartbeat(
                    self.job_id, self.worker, lease_seconds=self.lease_seconds
                )
            except Exception:  # a store hiccup: the next renewal (or the lease) decides
                log.warning("could not renew the lease of job %s", self.job_id, exc_info=True)


def run_job(
    store: JobStore,
    job: Job,
    pipeline: Any,
    worker: str,
    results_dir: Path,
    *,
    lease_seconds: float = LEASE_SECONDS,
    metrics: ServiceMetrics | None = None,
) -> str:
    """Run one claimed job to a final state; returns that state."""
    with LeaseKeeper(store, job.id, worker, lease_seconds) as lease:
        state, result = _run_pipeline(store, job, pipeline, worker, results_dir, lease)
    if metrics is not None:
        metrics.job_finished(state, (result or {}).get("timings"))
    return state


def _run_pipeline(
    store: JobStore, job: Job, pipeline: Any, worker: str, results_dir: Path, lease: LeaseKeeper
) -> tuple[str, dict[str, Any] | None]:
    request = job.request
    options = {name: request[name] for name in OPTION_RANGES if request.get(name) is not None}

    reached = 0.0

    def on_progress(stage: str, fraction: float, info: dict[str, Any]) -> bool:
        nonlocal reached  # the job's progress is the whole run's, and never goes back
        reached = max(reached, overall_progress(stage, fraction))
        reported = store.heartbeat(
            job.id, worker, stage=stage, progress=reached, lease_seconds=lease.lease_seconds
        )
        return reported and lease.keep

    folder = results_dir / job.id
    result: dict[str, Any] | None = None
    try:
        inputs: dict[str, Any] = {}
        if request.get("image"):
            inputs["image"] = resolve_input(results_dir, request["image"])
        else:
            inputs["prompt"] = request["prompt"]
        if request.get("mesh"):  # start from it, or paint it (keep_geometry)
            inputs["shape"] = resolve_input(results_dir, request["mesh"])
            inputs["strength"] = request.get("strength")
            inputs["keep_geometry"] = bool(request.get("keep_geometry"))
            inputs["up"] = request.get("up", "y")
            inputs["keep_uvs"] = not request.get("new_uvs")
        if request.get("view"):
            inputs["view"] = request["view"]
        if request.get("symmetry") is False:  # refined colours kept off the unseen sides
            inputs["symmetry"] = False
        asset = pipeline(seed=request.get("seed"), callback=on_progress, **inputs, **options)
        folder.mkdir(parents=True, exist_ok=True)
        written = asset.save(folder / f"asset.{request.get('format', 'glb')}")
        asset.preview(folder / "preview.png", views=4, resolution=256)
        files = [path.name for path in written] + ["preview.png"]
        result = {
            "files": files,
            "seed": asset.metadata["seed"],
            "timings": {k: round(v, 3) for k, v in asset.timings.items()},
            "faces": len(asset.mesh.faces),
        }
        if "view" in asset.metadata:  # the camera the texture was refined from, and its light
            result["view"] = asset.metadata["view"]
            result["light_contrast"] = asset.metadata["light_contrast"]
            result["highlights"] = asset.metadata.get("highlights", 0)
            result["shadow_light"] = asset.metadata.get("shadow_light")
            result["colour_cast"] = asset.metadata.get("colour_cast")
            result["symmetry"] = asset.metadata.get("symmetry")
        warnings = list(asset.metadata.get("warnings", []))  # e.g. a photo's busy background
        familiarity = asset.metadata.get("familiarity")
        if familiarity is not None:
            result["familiarity"] = familiarity
            if not familiarity["familiar"]:
                warnings.append(
                    unfamiliar_warning(
                        inputs["prompt"],
                        familiarity["similarity"],
                        familiarity["closest_known_caption"],
                    )
                )
        if warnings:
            result["warnings"] = warnings
        state = SUCCEEDED
        store.finish(job.id, worker, state, result=result)
    except GenerationCancelled:
        state = CANCELED
        store.finish(job.id, worker, state, error="canceled by request")
    except Gen3DError as error:  # bad input the request check could not see (an image)
        state = FAILED
        store.finish(job.id, worker, state, error=str(error))
    except Exception as error:  # a bug: record it, keep the worker alive
        log.exception("job %s failed", job.id)
        state = FAILED
        store.finish(job.id, worker, state, error=f"internal error: {type(error).__name__}")
    return state, result


class EmbeddedWorker:
    """A worker thread inside the server process; ``load_pipeline`` runs once, in the thread."""

    def __init__(
        self,
        store: JobStore,
        load_pipeline: Callable[[], Any],
        results_dir: Path,
        *,
        poll_seconds: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.metrics = metrics
        self.load_pipeline = load_pipeline
        self.results_dir = Path(results_dir)
        self.poll_seconds = poll_seconds
        self.ready = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._work = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gen3d-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A job was queued in this process: look now rather than at the next poll (the
        poll remains for jobs queued elsewhere and for re-queued ones)."""
        self._work.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._work.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            pipeline = self.load_pipeline()
        except Exception as error:  # the server stays up and /readyz says why
            self.error = f"{type(error).__name__}: {error}"
            log.error("the worker could not load the pipeline: %s", self.error)
            return
        self.ready.set()
        name = worker_name()
        while not self._stop.is_set():
            try:
                self.store.requeue_expired()
                job = self.store.claim(name, lease_seconds=self.lease_seconds)
            except Exception:  # the store is down: keep trying, /readyz reports it
                log.warning("the job store is unreachable; retrying", exc_info=True)
                self._stop.wait(5.0)
                continue
            if job is None:
                self._work.wait(self.poll_seconds)
                self._work.clear()
                continue
            started = time.perf_counter()
            state = run_job(
                self.store,
                job,
                pipeline,
                name,
                self.results_dir,
                lease_seconds=self.lease_seconds,
                metrics=self.metrics,
            )
            log.info("job %s %s in %.1f s", job.id, state, time.perf_counter() - started)

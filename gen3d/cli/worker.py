"""``gen3d worker``: a distributed-mode worker (Celery on the settings' broker)."""

from __future__ import annotations

import importlib

import typer

from gen3d.errors import Gen3DError


def worker_command(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Pipeline folder (default GEN3D_MODEL_PATH, else the default)."
    ),
    metrics_port: int | None = typer.Option(
        None, min=1, max=65535, help="Serve this worker's Prometheus metrics on this port."
    ),
) -> None:
    """Run jobs from the distributed queue: load the model once, then take one job at a time.

    Start any number, on any machines that reach the job store (GEN3D_DATABASE_URL, shared
    PostgreSQL), the broker (GEN3D_BROKER_URL, Redis) and the results volume
    (GEN3D_RESULTS_DIR). A worker that dies mid-job has the job re-run by another within
    about GEN3D_LEASE_SECONDS. SIGTERM stops it after its current job.

    \b
    Example:
      export GEN3D_QUEUE=distributed GEN3D_DATABASE_URL=postgresql+psycopg://db/gen3d
      gen3d worker --metrics-port 9100
    """
    settings = ctx.obj
    if settings.database_url is None:
        raise Gen3DError(
            "gen3d worker needs a job store shared with the API: set GEN3D_DATABASE_URL "
            "(PostgreSQL, or a SQLite file on the same machine)"
        )
    try:
        # By name: gen3d never imports server (the layering rule), the worker lives there.
        distributed = importlib.import_module("server.distributed")
        metrics_module = importlib.import_module("server.metrics")
    except ImportError as error:
        raise Gen3DError(
            f"distributed mode needs Celery: pip install 'gen3d[distributed]' ({error})"
        ) from None
    from gen3d.pipeline import Pipeline, resolve_model_path

    model_path = resolve_model_path(model, settings)

    def load() -> Pipeline:
        return Pipeline.from_pretrained(model_path, device=settings.device, dtype=settings.dtype)

    metrics = metrics_module.ServiceMetrics()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, registry=metrics.registry)
    distributed.DistributedWorker(settings, load, metrics=metrics).run()

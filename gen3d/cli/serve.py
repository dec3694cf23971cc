"""``gen3d serve``: the generation service (FastAPI on uvicorn) with its embedded worker."""

from __future__ import annotations

import typer


def serve_command(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to bind (default GEN3D_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default GEN3D_PORT)."),
) -> None:
    """Serve POST /generate, job status, progress, cancel and downloads.

    Jobs are kept in the job store (GEN3D_DATABASE_URL, default SQLite in GEN3D_DATA_DIR) and
    run by a worker thread that loads the model once (GEN3D_MODEL_PATH). API docs at /docs.

    \b
    Example:
      GEN3D_MODEL_PATH=my-pipeline gen3d serve --port 8000
    """
    import uvicorn

    settings = ctx.obj
    # By import string: gen3d never imports server (the layering rule); uvicorn calls the
    # factory, which reads the same GEN3D_* settings.
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
    )

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


def api_key_command(
    ctx: typer.Context,
    hash_only: str | None = typer.Option(
        None, "--hash", metavar="KEY", help="Print the hash of an existing key instead."
    ),
) -> None:
    """Make an API key for `gen3d serve` and print it with the hash the server keeps.

    Give the key to the client (Authorization: Bearer KEY); put only the hash in the server's
    settings, GEN3D_API_KEYS (comma-separated for several keys).

    \b
    Example:
      gen3d api-key
      GEN3D_API_KEYS=sha256:... gen3d serve
    """
    from gen3d.apikeys import hash_api_key, new_api_key

    if hash_only is not None:
        typer.echo(hash_api_key(hash_only))
        return
    key = new_api_key()
    typer.echo(f"key:  {key}")
    typer.echo(f"hash: {hash_api_key(key)}")
    typer.echo("Give the key to the client; set GEN3D_API_KEYS to the hash on the server.")

"""``gen3d batch``: build an asset library from a prompt file or a folder of images
(resumable, with a gallery)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gen3d.cli.options import generation_option, given_options

_RUN = "Options for every item"


def batch_command(
    ctx: typer.Context,
    prompts: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help="Prompt file (.txt, .csv or .jsonl) or a folder of images (image to 3D).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Library folder (created; resumable)."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A pipeline folder."),
    batch_size: int = typer.Option(4, min=1, max=64, help="Prompts sampled per DiT batch."),
    asset_format: str = typer.Option(
        "glb", "--format", help="Asset format: glb, obj, ply or usdz."
    ),
    thumbnails: bool = typer.Option(True, help="A PNG thumbnail per asset (for the gallery)."),
    server: str | None = typer.Option(
        None,
        "--server",
        metavar="URL",
        help="Send the items as jobs to a running gen3d service instead of generating here.",
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="GEN3D_API_KEY", help="The service's API key (with --server)."
    ),
    steps: int | None = generation_option("steps", panel=_RUN),
    guidance: float | None = generation_option("guidance", panel=_RUN),
    resolution: int | None = generation_option("resolution", panel=_RUN),
    face_count: int | None = generation_option("face_count", panel=_RUN),
    texture_size: int | None = generation_option("texture_size", panel=_RUN),
    refine_steps: int | None = generation_option(
        "refine_steps",
        help="Image items: refine the texture against the image (0-1000).",
        panel=_RUN,
    ),
) -> None:
    """Generate an asset per prompt or image into OUT, with manifest.json and index.html.

    Re-running the same command skips finished items and redoes interrupted or failed ones.

    The options for every item apply where an item sets none of its own (a CSV column).

    \b
    Examples:
      gen3d batch prompts.txt --out library/ --model my-pipeline
      gen3d batch props.csv --out props/ --batch-size 8   # prompt or image, seed, options
      gen3d batch photos/ --out scans/ --refine-steps 50  # an asset per image in photos/
      gen3d batch paint.csv --out painted/   # prompt,mesh,keep_geometry: repaint your meshes
      gen3d batch big.txt --out big/ --server http://gpu-farm:8000   # the service's workers
    """
    from gen3d.batch import BatchError, Library, read_items, run_library
    from gen3d.gallery import write_gallery
    from gen3d.mesh.export import SUPPORTED_EXPORTS
    from gen3d.pipeline import Pipeline, resolve_model_path

    suffix = f".{asset_format.lower().lstrip('.')}"
    if suffix not in SUPPORTED_EXPORTS:
        raise BatchError(f"unknown format {asset_format!r}; use glb, obj, ply or usdz")
    if server is not None and model is not None:
        raise BatchError("--model picks a local model; with --server the service's model is used")
    items = read_items(prompts, given_options(ctx.params))
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: exists and is not a folder")
    library = Library(out)
    library.open(items, str(prompts))
    todo = library.todo()
    console = Console(stderr=True)
    done = library.counts().get("succeeded", 0)  # finished by earlier runs
    if todo and server is not None:
        _run_remote(server, api_key, library, suffix, thumbnails, len(todo), console)
    elif todo:
        settings = ctx.obj
        path = resolve_model_path(model, settings)
        with console.status(f"loading the model from {path}"):
            pipe = Pipeline.from_pretrained(
                path,
                device=settings.device if settings else "auto",
                dtype=settings.dtype if settings else "auto",
            )
        with _progress(console) as progress:
            on_item = _item_reporter(progress, len(todo), "generating")
            try:
                run_library(
                    pipe,
                    library,
                    batch_size=batch_size,
                    suffix=suffix,
                    thumbnails=thumbnails,
                    on_item=on_item,
                )
            finally:  # an interrupted run still leaves a gallery of what it finished
                write_gallery(library)
    else:
        write_gallery(library)
    counts = library.counts()
    console.print(
        f"{counts.get('succeeded', 0)} succeeded ({done} from earlier runs), "
        f"{counts.get('failed', 0)} failed; manifest {library.manifest_path}; "
        f"gallery {out / 'index.html'}"
    )
    if counts.get("failed"):
        raise typer.Exit(code=1)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )


def _item_reporter(progress: Progress, total: int, description: str):
    task = progress.add_task(description, total=total)

    def on_item(item) -> None:
        progress.advance(task)
        if item.status == "failed":
            progress.console.print(f"[red]failed[/] {item.id}: {item.error}")

    return on_item


def _run_remote(server, api_key, library, suffix, thumbnails, total, console) -> None:
    from gen3d.gallery import write_gallery
    from gen3d.remote import ServiceClient, run_library_remote

    with ServiceClient(server, api_key=api_key) as client:
        client.check()
        with _progress(console) as progress:
            on_item = _item_reporter(progress, total, f"generating on {client.url}")
            try:
                run_library_remote(
                    client, library, suffix=suffix, thumbnails=thumbnails, on_item=on_item
                )
            finally:
                write_gallery(library)

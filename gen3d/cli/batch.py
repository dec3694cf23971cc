"""``gen3d batch``: build an asset library from a prompt file (resumable, with a gallery)."""

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

from gen3d.mesh.export import SUPPORTED_EXPORTS


def batch_command(
    ctx: typer.Context,
    prompts: Path = typer.Argument(..., help="Prompt file: .txt, .csv or .jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Library folder (created; resumable)."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A pipeline folder."),
    batch_size: int = typer.Option(4, min=1, max=64, help="Prompts sampled per DiT batch."),
    asset_format: str = typer.Option("glb", "--format", help="Asset format: glb, obj or ply."),
    thumbnails: bool = typer.Option(True, help="A PNG thumbnail per asset (for the gallery)."),
) -> None:
    """Generate an asset per prompt into OUT with manifest.json and an offline index.html.

    Re-running the same command skips finished items and redoes interrupted or failed ones.

    \b
    Examples:
      gen3d batch prompts.txt --out library/ --model my-pipeline
      gen3d batch props.csv --out props/ --batch-size 8     # columns: prompt, seed, options
    """
    from gen3d.batch import BatchError, Library, read_items, run_library
    from gen3d.gallery import write_gallery
    from gen3d.pipeline import Pipeline, resolve_model_path

    suffix = f".{asset_format.lower().lstrip('.')}"
    if suffix not in SUPPORTED_EXPORTS:
        raise BatchError(f"unknown format {asset_format!r}; use glb, obj or ply")
    items = read_items(prompts)
    if out.exists() and not out.is_dir():
        raise BatchError(f"{out}: exists and is not a folder")
    library = Library(out)
    library.open(items, str(prompts))
    todo = library.todo()
    console = Console(stderr=True)
    done = len(items) - len(todo)
    if todo:
        settings = ctx.obj
        path = resolve_model_path(model, settings)
        with console.status(f"loading the model from {path}"):
            pipe = Pipeline.from_pretrained(
                path,
                device=settings.device if settings else "auto",
                dtype=settings.dtype if settings else "auto",
            )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("generating", total=len(todo))

            def on_item(item) -> None:
                progress.advance(task)
                if item.status == "failed":
                    progress.console.print(f"[red]failed[/] {item.id}: {item.error}")

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

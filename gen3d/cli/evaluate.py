"""``gen3d eval``: score a pipeline on held-out procedural shapes (see gen3d.eval.harness)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from gen3d.errors import Gen3DError

PARTS = ("vae", "text", "image")
DEFAULT_CLASSIFIER = Path(__file__).resolve().parents[1] / "eval" / "weights" / "classifier"


class EvalError(Gen3DError):
    exit_code = 2


def eval_command(
    ctx: typer.Context,
    data: Path = typer.Option(..., "--data", "-d", help="A built procedural dataset."),
    model: Path | None = typer.Option(
        None, "--model", "-m", help="Pipeline folder (default GEN3D_MODEL_PATH, else the default)."
    ),
    parts: str = typer.Option("vae,text,image", help="Which of vae, text, image to run."),
    split: str = typer.Option("test", help="Held-out split: test or val."),
    shapes: int = typer.Option(40, min=1, help="Held-out shapes for the VAE part."),
    per_category: int = typer.Option(4, min=1, help="Prompts per category for the text part."),
    image_shapes: int = typer.Option(16, min=1, help="Renders for the image part."),
    image_views: str = typer.Option(
        "reference",
        help="Where the image part's renders are taken from: reference (the model's "
        "reference view) or random (a random view per shape, as photos are).",
    ),
    classifier: Path | None = typer.Option(
        None, help="Category classifier folder (default: the one shipped with gen3d)."
    ),
    steps: int | None = typer.Option(None, min=1, max=200, help="Sampling steps."),
    resolution: int | None = typer.Option(
        None, min=32, max=512, help="Mesh grid resolution, every part; default generate's."
    ),
    texture_size: int | None = typer.Option(
        None, min=0, max=4096, help="Texture side (0: vertex colours, faster); default the model's."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write the report as JSON."),
) -> None:
    """VAE reconstruction, text-to-3D category and colour accuracy with COV/MMD/1-NNA, and
    image-to-3D F-score, on held-out shapes of a procedural dataset.

    \b
    Example:
      gen3d eval --data data/shapes --model runs/pipeline --out eval.json
      gen3d eval --data data/shapes --parts vae --shapes 100
    """
    import torch

    from gen3d.eval.classifier import PointCloudClassifier
    from gen3d.eval.harness import (
        IMAGE_VIEWS,
        HeldOut,
        evaluate_image,
        evaluate_text,
        evaluate_vae,
    )
    from gen3d.pipeline import Pipeline, resolve_model_path

    chosen = [part.strip() for part in parts.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown or not chosen:
        raise EvalError(f"--parts takes some of {', '.join(PARTS)}, not {parts!r}")
    if image_views not in IMAGE_VIEWS:
        raise EvalError(f"--image-views takes {' or '.join(IMAGE_VIEWS)}, not {image_views!r}")
    settings = ctx.obj
    console = Console(stderr=True)
    pipeline = Pipeline.from_pretrained(resolve_model_path(model, settings), device="cpu")
    try:
        held = HeldOut.load(data, split=split)
    except (ValueError, OSError) as error:
        raise EvalError(f"{data}: {error}") from None
    options = {
        name: value
        for name, value in (
            ("steps", steps),
            ("texture_size", texture_size),
            ("resolution", resolution),
        )
        if value is not None
    }

    def progress(part: str, done: int, total: int) -> None:
        console.print(f"{part}: {done}/{total}", end="\r", highlight=False)

    # Text and image generate with the pipeline's defaults; the VAE part meshes on the same
    # grid, so that the report has one resolution.
    grid = resolution or pipeline.defaults.resolution
    report: dict[str, object] = {
        "model": str(model or "default"),
        "data": str(data),
        "split": split,
        "resolution": grid,
        "field_dtype": str(pipeline.field_dtype).removeprefix("torch."),
    }
    torch.manual_seed(0)
    if "vae" in chosen:
        report["vae"] = evaluate_vae(
            pipeline.vae,
            held.head(shapes),
            resolution=grid,
            query_dtype=pipeline.field_dtype,
            progress=progress,
        )
    if "text" in chosen:
        path = classifier or DEFAULT_CLASSIFIER
        try:
            model_classifier = PointCloudClassifier.from_pretrained(path)
        except FileNotFoundError as error:
            raise EvalError(f"{error}; pass --classifier PATH") from None
        text = evaluate_text(
            pipeline,
            held,
            model_classifier,
            per_category=per_category,
            options=options,
            progress=progress,
        )
        report["text"] = {
            "category_accuracy": text.category_accuracy,
            "colour_accuracy": text.colour_accuracy,
            "empty": text.empty,
            "per_category": text.per_category,
        }
    if "image" in chosen:
        if pipeline.image_encoder is None:
            raise EvalError("this pipeline has no image encoder: leave image out of --parts")
        report["image"] = evaluate_image(
            pipeline,
            held,
            shapes=image_shapes,
            options=options,
            progress=progress,
            views=image_views,
        )
    console.print(_table(report))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"report: {out}")


def _table(report: dict) -> Table:
    table = Table(title="gen3d eval", show_lines=False)
    table.add_column("part")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for part in PARTS:
        values = report.get(part)
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if isinstance(value, int | float):
                table.add_row(
                    part, name, f"{value:.3f}" if isinstance(value, float) else str(value)
                )
            elif value is None:
                table.add_row(part, name, "n/a")
    return table

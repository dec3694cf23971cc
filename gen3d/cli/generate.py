"""``gen3d generate``: one prompt or image to one asset file, with progress per stage."""

from __future__ import annotations

import os
import time
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from gen3d.cli.options import generation_option, given_options
from gen3d.errors import Gen3DError

STAGE_LABELS = {
    "straighten": "straightening the photo",
    "encode": "encoding the input",
    "sample": "sampling the shape",
    "decode": "decoding the field",
    "mesh": "extracting the mesh",
    "texture": "baking the texture",
    "refine": "refining the texture",
}


class UpAxis(str, Enum):
    """A mesh's up axis: the model's own (+Y, glTF's) or +Z (CAD, many OBJ and STL files)."""

    y = "y"
    z = "z"


#: ``--view``, shared by ``gen3d generate`` and ``gen3d texture``
VIEW_OPTION = typer.Option(
    None,
    "--view",
    help="With --image, when it is refined: the camera the image was taken from: auto "
    "(estimated from the image, the default), reference (the model's training view), or "
    "AZIMUTH,ELEVATION[,ROLL] in degrees (e.g. 210,15; azimuth 0 faces the object's front; "
    "ROLL turns the picture counter-clockwise, for a camera held askew).",
)
SYMMETRY_OPTION = typer.Option(
    True,
    help="With --image, when it is refined: carry the photo's colours round a round shape, "
    "or mirror them onto the far half of a mirror-symmetric one, where the photo does not "
    "show it (--no-symmetry keeps the model's colours there, e.g. for a label on one side).",
)


class GenerateError(Gen3DError):
    """A generate request that cannot run (no model, bad output path)."""


def check_output(out: Path) -> None:
    from gen3d.mesh.export import SUPPORTED_EXPORTS

    if out.suffix.lower() not in SUPPORTED_EXPORTS:
        raise GenerateError(
            f"{out}: unsupported format {out.suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXPORTS)}"
        )
    if not out.parent.is_dir():
        raise GenerateError(f"{out}: the folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise GenerateError(f"{out}: not writable")


def generate_command(
    ctx: typer.Context,
    prompt: str | None = typer.Argument(None, help="What to make, e.g. 'a red wooden chair'."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .glb, .obj, .ply or .usdz."),
    image: Path | None = typer.Option(None, "--image", "-i", help="Image-to-3D: a photo/render."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A pipeline folder."),
    seed: int | None = typer.Option(None, min=0, help="Seed; the same seed gives the same asset."),
    steps: int | None = generation_option("steps"),
    guidance: float | None = generation_option("guidance"),
    resolution: int | None = generation_option("resolution"),
    face_count: int | None = generation_option("face_count"),
    texture_size: int | None = generation_option("texture_size"),
    refine_steps: int | None = generation_option("refine_steps"),
    view: str | None = VIEW_OPTION,
    straighten: bool = typer.Option(
        True,
        help="With --image: turn a photo taken with the camera held askew upright first "
        "(a quick shape is sampled to find its roll; a few seconds).",
    ),
    symmetry: bool = SYMMETRY_OPTION,
    preview: Path | None = typer.Option(None, help="Also write a PNG of four views here."),
    variations: int = typer.Option(
        1,
        min=1,
        max=16,
        help="Make this many candidates (seeds SEED, SEED+1, ...) in one batch: "
        "OUT-1.glb, OUT-2.glb, ...",
    ),
    start: Path | None = typer.Option(
        None,
        "--from",
        help="Start from this mesh instead of noise: a variation of it that follows the "
        "prompt or image (see --strength).",
    ),
    up: UpAxis = typer.Option(
        UpAxis.y, "--up", help="With --from: the mesh's up axis (z for Z-up OBJ/STL files)."
    ),
    strength: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="With --from: how far from the mesh to go (0 keeps it, 1 ignores it; default 0.5).",
    ),
) -> None:
    """Generate one textured asset from a prompt or an image.

    \b
    Examples:
      gen3d generate "a red wooden chair" -o chair.glb
      gen3d generate --image photo.png -o object.glb --seed 7
      gen3d generate --image photo.png -o object.glb --refine-steps 100 --view 210,15
      gen3d generate "a ceramic mug" -o mug.glb --variations 4 --preview mugs.png
      gen3d generate "a blue chair" --from chair.glb --strength 0.5 -o blue-chair.glb
    """
    options = given_options(ctx.params)
    if (strength is not None or up != UpAxis.y) and start is None:
        raise GenerateError("--strength and --up go with --from MESH (the mesh to start from)")
    shape = {"shape": start, "strength": strength, "up": up.value} if start is not None else {}
    if not straighten:
        shape = {**shape, "straighten": False}
    if not symmetry:
        shape = {**shape, "symmetry": False}
    run_generation(ctx, prompt, image, out, model, seed, options, preview, variations, shape, view)


def run_generation(
    ctx: typer.Context,
    prompt: str | None,
    image: Path | None,
    out: Path,
    model: Path | None,
    seed: int | None,
    options: dict[str, Any],
    preview: Path | None,
    variations: int,
    shape: dict[str, Any],
    view: str | None = None,
) -> None:
    """Load the pipeline, generate with a progress display and write each asset (shared by
    ``gen3d generate`` and ``gen3d texture``); ``shape`` holds the pipeline's shape,
    strength and keep_geometry arguments, ``view`` the camera of ``image`` for refinement."""
    from gen3d.pipeline import Pipeline, resolve_model_path

    if (prompt is None) == (image is None):
        raise GenerateError("give a prompt or --image (exactly one)")
    if prompt is not None and not prompt.strip():
        raise GenerateError("the prompt is empty: describe the object, e.g. 'a red chair'")
    if image is not None and image.is_dir():
        raise GenerateError(
            f"{image}: is a folder; for an asset per image in it, run gen3d batch {image} --out DIR"
        )
    if image is not None and not image.is_file():
        raise GenerateError(f"{image}: no such image file")
    check_output(out)
    if preview is not None and (preview.suffix.lower() != ".png" or not preview.parent.is_dir()):
        raise GenerateError(f"{preview}: the preview is a .png in an existing folder")
    settings = ctx.obj
    path = resolve_model_path(model, settings)
    console = Console(stderr=True)
    started = time.perf_counter()
    with console.status(f"loading the model from {path}"):
        pipe = Pipeline.from_pretrained(
            path,
            device=settings.device if settings else "auto",
            dtype=settings.dtype if settings else "auto",
        )
    # Options (and a starting mesh) are checked before the progress display starts, so
    # errors print cleanly.
    _, _, checked_options = pipe.check_inputs(prompt, image, options)
    if view is not None:
        view = pipe.check_view(view, image is not None and checked_options.refine_steps > 0)
    if shape.get("shape") is not None:
        with console.status(f"reading {shape['shape']}"):
            checked, _ = pipe.check_shape(
                shape["shape"],
                shape.get("strength"),
                shape.get("keep_geometry", False),
                shape.get("up", "y"),
            )
            shape = {**shape, "shape": checked}
    load_seconds = time.perf_counter() - started

    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, fraction: float, info: dict[str, Any]) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=1.0)
                for other in tasks.values():  # earlier stages are done
                    if other != tasks[stage]:
                        progress.update(other, completed=1.0)
            progress.update(tasks[stage], completed=fraction)

        if variations == 1:
            assets = [
                pipe(
                    prompt=prompt,
                    image=image,
                    seed=seed,
                    callback=on_progress,
                    view=view,
                    **shape,
                    **options,
                )
            ]
        else:  # one DiT batch; seeds seed, seed + 1, ... (random ones without --seed)
            assets = pipe(
                prompt=None if prompt is None else [prompt] * variations,
                image=None if image is None else [image] * variations,
                seed=seed,
                callback=on_progress,
                view=view,
                **shape,
                **options,
            )
    for index, asset in enumerate(assets, start=1):
        target = out if variations == 1 else numbered(out, index)
        written = asset.save(target)
        if preview is not None:
            views = preview if variations == 1 else numbered(preview, index)
            asset.preview(views)
            written.append(views)
        console.print(f"[green]wrote[/] {', '.join(str(p) for p in written)}")
        stage_times = ", ".join(f"{stage} {s:.1f} s" for stage, s in asset.timings.items())
        console.print(
            f"seed {asset.metadata['seed']}; model load {load_seconds:.1f} s; {stage_times}; "
            f"{len(asset.mesh.faces):,} faces"
        )
        if asset.metadata.get("straightened"):
            console.print(
                f"the photo looked turned {asset.metadata['straightened']:+.0f} degrees (a "
                "camera held askew): turned upright first (--no-straighten to keep it)"
            )
        if "view" in asset.metadata:
            console.print(
                describe_view(
                    asset.metadata["view"],
                    asset.metadata["light_contrast"],
                    asset.metadata.get("highlights", 0),
                    asset.metadata.get("shadow_light"),
                    asset.metadata.get("symmetry"),
                )
            )


#: below this contrast a photo counts as evenly lit, and the refinement line does not mention it
NOTABLE_LIGHT_CONTRAST = 0.05


def describe_view(
    view: dict[str, Any],
    light_contrast: float = 0.0,
    highlights: int = 0,
    shadow_light: float | None = None,
    symmetry: dict[str, Any] | None = None,
) -> str:
    """One line on the camera the texture was refined from, e.g. 'refined from azimuth 210,
    elevation 15 (estimated: silhouette IoU 0.94); the photo's shading (contrast 0.42) and
    1 highlight kept out of the texture; its colours carried round the round shape (41% of
    the texture)'. ``symmetry``: the asset metadata's (``gen3d.pipeline``'s
    ``_symmetry_metadata``)."""
    line = f"refined from azimuth {view['azimuth']:.0f}, elevation {view['elevation']:.0f}"
    if view.get("roll"):
        line += f", the picture turned {view['roll']:+.0f}"
    if view["source"] == "estimated":
        line = f"{line} (estimated: silhouette IoU {view['iou']:.2f}; --view to set it)"
    else:
        line = f"{line} ({view['source']})"
    kept_out = []
    if light_contrast >= NOTABLE_LIGHT_CONTRAST:
        kept_out.append(f"the photo's shading (contrast {light_contrast:.2f})")
    if highlights:
        kept_out.append(f"{highlights} highlight{'s' if highlights > 1 else ''}")
    if shadow_light is not None:
        kept_out.append(f"cast shadows ({shadow_light:.0%} of the light)")
    if kept_out:
        listed = ", ".join(kept_out[:-1]) + " and " if len(kept_out) > 1 else ""
        line += f"; {listed}{kept_out[-1]} kept out of the texture"
    if symmetry and symmetry["carried"] > 0:
        share = f"{symmetry['carried']:.0%} of the texture"
        if symmetry.get("mirror") is not None:
            line += (
                f"; its colours mirrored onto the side the photo does not show ({share}; "
                "--no-symmetry to keep the model's)"
            )
        elif symmetry.get("round"):
            line += f"; its colours carried round the round shape ({share})"
        else:
            turn = min(symmetry["turns"])
            shape = f"the shape (symmetric under turns of {turn:.0f} degrees, {share})"
            line += f"; its colours carried round {shape}"
    return line


def numbered(path: Path, index: int) -> Path:
    """``chair.glb`` -> ``chair-2.glb``: the ``index``-th of several variations."""
    return path.with_name(f"{path.stem}-{index}{path.suffix}")

"""``gen3d texture``: paint an existing mesh from a prompt or an image, keeping its geometry."""

from __future__ import annotations

from pathlib import Path

import typer

from gen3d.cli.generate import (
    SYMMETRY_OPTION,
    VIEW_OPTION,
    GenerateError,
    UpAxis,
    run_generation,
)
from gen3d.cli.options import generation_option, given_options


def texture_command(
    ctx: typer.Context,
    mesh: Path = typer.Argument(..., help="The mesh to paint (GLB, OBJ, PLY, STL, OFF, USD)."),
    prompt: str | None = typer.Argument(None, help="How it should look, e.g. 'a red chair'."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .glb, .obj, .ply or .usdz."),
    image: Path | None = typer.Option(None, "--image", "-i", help="Paint it like this image."),
    model: Path | None = typer.Option(None, "--model", "-m", help="A pipeline folder."),
    seed: int | None = typer.Option(None, min=0, help="Seed; the same seed gives the same paint."),
    strength: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="How far from the mesh's own colours to go (0 keeps them, 1 ignores them; "
        "default 0.9).",
    ),
    steps: int | None = generation_option("steps"),
    guidance: float | None = generation_option("guidance"),
    texture_size: int | None = generation_option("texture_size"),
    up: UpAxis = typer.Option(
        UpAxis.y,
        "--up",
        help="The mesh's up axis (z for Z-up OBJ/STL files); it comes back in its own axes.",
    ),
    new_uvs: bool = typer.Option(
        False,
        "--new-uvs",
        help="Unwrap new UVs even when the mesh has its own (kept by default when they lie "
        "inside the unit square, in one part or in one atlas its parts share).",
    ),
    refine_steps: int | None = generation_option(
        "refine_steps",
        help="With --image: refine the texture against it (0-1000 steps; unset: the model's "
        "default, 50 for the default model), seen from --view.",
    ),
    view: str | None = VIEW_OPTION,
    symmetry: bool = SYMMETRY_OPTION,
    preview: Path | None = typer.Option(None, help="Also write a PNG of four views here."),
    variations: int = typer.Option(
        1, min=1, max=16, help="Make this many paint jobs (seeds SEED, SEED+1, ...)."
    ),
) -> None:
    """Paint a mesh you have: new colour from a prompt or image, every vertex kept.

    The geometry stays as it is, in its own units and axes; sampling starts from its latent.

    The colour is baked into the mesh's own UVs, or new ones where it has none usable.

    It works best on objects of the kinds the model was trained on.

    \b
    Examples:
      gen3d texture chair.obj "a red wooden chair" -o red-chair.glb
      gen3d texture mug.glb "a green mug" -o green-mug.glb --variations 4 --preview mugs.png
      gen3d texture chair.obj --image photo.jpg --refine-steps 100 -o chair.glb
    """
    if mesh.is_dir():
        raise GenerateError(
            f"{mesh}: is a folder; to paint every mesh in it, give gen3d batch a CSV of "
            "prompt,mesh,keep_geometry rows"
        )
    if not mesh.is_file():
        raise GenerateError(f"{mesh}: no such mesh file")
    shape = {
        "shape": mesh,
        "strength": strength,
        "keep_geometry": True,
        "keep_uvs": not new_uvs,
        "up": up.value,
    }
    if not symmetry:
        shape["symmetry"] = False
    options = given_options(ctx.params)
    run_generation(ctx, prompt, image, out, model, seed, options, preview, variations, shape, view)

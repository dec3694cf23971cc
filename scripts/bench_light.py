"""Benchmark what fitting a photo's light costs in texture refinement (CPU or GPU).

    .venv/bin/python scripts/bench_light.py              # ~6 min on 2 CPU cores
    .venv/bin/python scripts/bench_light.py --shapes mug --repeats 1

Photos: procedural shapes (seed 1000 and up, meshed at 96^3 with their own colours) rendered
at 384^2 from the reference view, as ``scripts/bench_pose.py`` renders them: lit by a head
light (``lambert``), or by a white lamp above and to the right of the camera with the
shadows the shape casts on itself (``shadowed``). Each mesh is painted by the default model
from its photo, as ``gen3d texture MESH --image PHOTO`` does, then refined for 100 steps
against the photo (``gen3d.pipeline.refine_from_photo``) four ways, each timed whole:

- ``photo's light kept``: ``fit_lighting=False``, the baseline: refinement alone;
- ``light``: the light fitted (``render.lighting.fit_light``), no highlights or shadows;
- ``+ highlights``: and highlights searched for (``render.highlights``);
- ``+ shadows``: and cast shadows (``render.shadows``): gen3d's default.

``fit`` times one coloured light fit of each photo (``render.lighting.fit_light``, as
refinement last calls it: with its cast shadows where it found some, and the bake as a guess
at the surface colour), its least squares on at most ``render.lighting.FIT_ROWS`` rows,
against the same fit on every row (the baseline: gen3d until session 40), and gives the
largest difference between the two fitted log shadings over the object. Medians over
``--repeats``, after a warm-up. Prints Markdown tables and writes bench_light.json into
``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import trimesh
from bench_pose import REFERENCE_VIEW, photo
from PIL import Image

import render.lighting as lighting
from gen3d import Pipeline
from gen3d.data.procedural import generate_shape
from gen3d.image_view import prepared_photo
from gen3d.mesh import extract_hierarchical, vertex_colours
from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo
from render import RenderMesh
from render.lighting import default_stride, neighbour_steps

OUT = Path("bench_results")
SHAPES = ("stool", "chair", "toy_car", "mug")
SHADINGS = ("lambert", "shadowed")
STEPS = 100
VARIANTS: dict[str, dict[str, bool]] = {
    "photo's light kept": {"fit_lighting": False},
    "light": {"highlights": False, "shadows": False},
    "+ highlights": {"shadows": False},
    "+ shadows": {},
}


def timed(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median seconds of ``function`` after a warm-up call, and its last result."""
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def photo_inputs(shape_name: str, shading: str, pipe: Pipeline) -> tuple:
    """The painted mesh (no geometry change) and the prepared photo of one shape."""
    shape = generate_shape(shape_name, 1000 + SHAPES.index(shape_name))
    mesh = extract_hierarchical(shape, 96).mesh
    vertex_colours(shape, mesh)
    image, _ = photo(RenderMesh.from_trimesh(mesh), REFERENCE_VIEW, shading)
    picture = Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8))
    plain = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    painted = pipe(image=picture, shape=plain, keep_geometry=True, seed=0).mesh
    return painted, prepared_photo(picture, REFINE_RESOLUTION, PREPARE_MARGIN)


def fit_row(painted, prepared, repeats: int, trust_bake: bool) -> dict:
    """One light fit (``render.lighting.fit_light``, coloured, with the cast shadows and the
    guess at the surface colour refinement gave it), on at most ``FIT_ROWS`` rows (gen3d)
    against every row (the baseline)."""
    import render.refine as refine_module

    captured: dict = {}
    original = refine_module.fit_light

    def spy(normals, references, weight, **options):  # the last fit refinement makes
        captured.update(normals=normals, references=references, weight=weight, options=options)
        return original(normals, references, weight, **options)

    refine_module.fit_light = spy
    try:
        refine_from_photo(painted, prepared, REFERENCE_VIEW, 1, trust_bake=trust_bake)
    finally:
        refine_module.fit_light = original
    normals, mask, options = captured["normals"], captured["weight"], captured["options"]

    def fit() -> torch.Tensor:
        light = lighting.fit_light(normals, captured["references"], mask, **options)
        return light.shading[mask].log()

    seconds, fitted = timed(fit, repeats)
    rows = lighting.FIT_ROWS
    lighting.FIT_ROWS = 1 << 62  # every row: the baseline
    try:
        baseline_seconds, expected = timed(fit, repeats)
    finally:
        lighting.FIT_ROWS = rows
    return {
        "pairs": len(neighbour_steps(mask, default_stride(mask), mask.float())[0]),
        "shadowed": options.get("shadowed") is not None,
        "fit_s": seconds,
        "baseline_fit_s": baseline_seconds,
        "max_difference": float((fitted - expected).abs().max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"from {', '.join(SHAPES)}")
    parser.add_argument("--shadings", default=",".join(SHADINGS), help="lambert, shadowed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for bench_light.json")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained()
    rows = []
    for shading in args.shadings.split(","):
        for shape_name in args.shapes.split(","):
            painted, prepared = photo_inputs(shape_name, shading, pipe)
            row: dict = {"shape": shape_name, "shading": shading, "faces": len(painted.faces)}
            for name, options in VARIANTS.items():
                seconds, (_, refined) = timed(
                    lambda inputs=(painted, prepared), options=options: refine_from_photo(
                        *inputs, REFERENCE_VIEW, STEPS, trust_bake=pipe.config.trust_bake, **options
                    ),
                    args.repeats,
                )
                row[name] = seconds
            row["highlights"] = len(refined.highlights)
            row["shadow_light"] = refined.shadow_light
            row["fit"] = fit_row(painted, prepared, args.repeats, pipe.config.trust_bake)
            rows.append(row)
            print(row, flush=True)

    print(
        f"\nRefining from a photo, {STEPS} steps at 384^2 ({platform.machine()}, "
        f"{torch.get_num_threads()} threads): seconds"
    )
    names = list(VARIANTS)
    print("| photo | shape (faces) | " + " | ".join(names) + " | found |")
    print("| --- | --- | " + " | ".join("---:" for _ in names) + " | --- |")
    for row in rows:
        found = [f"{row['highlights']} highlight(s)"] if row["highlights"] else []
        if row["shadow_light"] is not None:
            found.append(f"shadows ({row['shadow_light']:.2f})")
        print(
            f"| {row['shading']} | {row['shape']} ({row['faces']:,}) | "
            + " | ".join(f"{row[name]:.2f}" for name in names)
            + f" | {', '.join(found) or '-'} |"
        )
    print(
        "\nOne light fit (coloured; with its cast shadows where found, against the bake): "
        f"seconds on at most {lighting.FIT_ROWS:,} rows (gen3d) and on every row (the "
        "baseline); the largest difference in the fitted log shading"
    )
    print(
        "| photo | shape | neighbour pairs | gen3d | every row (baseline) | speed-up | max diff |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        fit = row["fit"]
        print(
            f"| {row['shading']} | {row['shape']} | {fit['pairs']:,} | {fit['fit_s']:.3f} | "
            f"{fit['baseline_fit_s']:.3f} | {fit['baseline_fit_s'] / fit['fit_s']:.1f}x | "
            f"{fit['max_difference']:.1e} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_light.json"
    path.write_text(json.dumps({"machine": platform.machine(), "rows": rows}, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

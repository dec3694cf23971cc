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

``fit`` times the least squares of one coloured light fit of each photo (in
``render.lighting.fit_light``, with its cast shadows where refinement found some) against
the same iteratively reweighted least squares written as gen3d had it until session 21 (an
``einsum`` of design, weights and design per iteration), the baseline, and checks that the
two agree. Medians over ``--repeats``, after a warm-up. Prints Markdown tables and writes
bench_light.json into ``--out``.
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

from gen3d import Pipeline
from gen3d.data.procedural import generate_shape
from gen3d.image_view import prepared_photo
from gen3d.mesh import extract_hierarchical, vertex_colours
from gen3d.pipeline import PREPARE_MARGIN, REFINE_RESOLUTION, refine_from_photo
from render import RenderMesh
from render.lighting import _fit_smooth_log, default_stride, log_luma, neighbour_steps, sh_basis

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


def einsum_irls(normals, values, mask, stride, iterations=20, extra=None):
    """The light fit's IRLS as it was (the baseline): ``render.lighting._fit_smooth_log``
    contracting design, weights and design again in every iteration. Returns the
    coefficients ``(8 + E, K)``."""
    basis = sh_basis(normals)[..., 1:]
    if extra is not None:
        basis = torch.cat([basis, extra], dim=-1)
    rows, targets = neighbour_steps(mask, stride, basis, values)
    design, target = rows.double(), targets.double()
    size, channels = design.shape[1], target.shape[1]
    coefficients = torch.zeros(size, channels, dtype=torch.float64)
    ridge = 1e-6 * torch.eye(size, dtype=torch.float64)
    for _ in range(iterations):
        weight = 1.0 / (target - design @ coefficients).abs().clamp_min(1e-3)
        normal = torch.einsum("mi,mk,mj->kij", design, weight, design) + ridge
        right = torch.einsum("mi,mk->ki", design, weight * target)
        coefficients = torch.linalg.solve(normal, right).T
    return coefficients


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


def fit_row(painted, prepared, repeats: int) -> dict:
    """The light fit's least squares (``_fit_smooth_log``, coloured, with the cast shadows
    refinement found) on the design refinement gives it, gen3d's against the baseline's."""
    import render.refine as refine_module

    captured: dict = {}
    original = refine_module.fit_light

    def spy(normals, references, weight, **options):  # the last fit refinement makes
        captured.update(normals=normals, references=references, weight=weight, **options)
        return original(normals, references, weight, **options)

    refine_module.fit_light = spy
    try:
        refine_from_photo(painted, prepared, REFERENCE_VIEW, 1)
    finally:
        refine_module.fit_light = original
    normals, mask = captured["normals"], captured["weight"]
    image = captured["references"].to(normals)
    brightness = log_luma(image)[..., None]
    values = torch.cat([brightness, image.clamp_min(1.0 / 255.0).log() - brightness], dim=-1)
    shadowed = captured.get("shadowed")
    extra = None if shadowed is None else shadowed.to(normals)[..., None]
    stride = default_stride(mask)
    seconds, (fitted, _) = timed(
        lambda: _fit_smooth_log(normals, values, mask, stride, 20, extra), repeats
    )
    baseline_seconds, baseline = timed(
        lambda: einsum_irls(normals, values, mask, stride, extra=extra), repeats
    )
    basis = sh_basis(normals)[..., 1:]
    if extra is not None:
        basis = torch.cat([basis, extra], dim=-1)
    expected = (basis[mask].double() @ baseline).to(fitted.dtype)
    return {
        "pairs": len(neighbour_steps(mask, stride, values)[0]),
        "shadowed": shadowed is not None,
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
            row["fit"] = fit_row(painted, prepared, args.repeats)
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
    print("\nOne light fit (coloured; with its cast shadows where found): seconds")
    print(
        "| photo | shape | neighbour pairs | gen3d | einsum IRLS (baseline) | speed-up | max diff |"
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

"""Benchmark generation from a mesh: painting a mesh (``gen3d texture``) and variations of
one (``gen3d generate --from``), at several strengths.

    .venv/bin/python scripts/bench_edit.py                     # 16 shapes (~15 min, CPU)
    .venv/bin/python scripts/bench_edit.py --shapes 33 --strengths 0.5,0.7,0.9

The inputs stand in for a user's meshes: procedural shapes of seeds the default model never
saw (1000 and up), meshed at 96^3 with their own colours. Each is asked for a colour it does
not have ("a green chair"). Painting keeps the mesh and bakes vertex colours; it is scored by
colour accuracy (the asked colour covers at least a tenth of the surface, as `gen3d eval`
scores text to 3D) and by how many faces come back (all of them, by design). It runs twice,
with the colour read on the generated field's own surface (what gen3d does) and read at the
mesh's surface directly (the baseline). Variations mesh the sampled shape and are scored by
F-score against the input mesh (how much of it is kept) and colour accuracy. Strength 1 is
plain text to 3D, the reference for how far an unrelated sample lies.

Then why colour is read on the field's own surface (``--parts offset``): the default model's
reconstructions of 8 unseen shapes, queried at points moved off the true surface along its
normals, against the shape's true colour there; the direct read (the baseline) against the
read after projecting onto the field's surface.
Prints Markdown tables and writes bench_results/bench_edit.json (``--parts`` picks parts).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from gen3d.data.procedural import generate_shape, list_categories
from gen3d.eval.colour import shown_colours
from gen3d.eval.metrics import compare_meshes
from gen3d.mesh import extract_hierarchical, vertex_colours

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("red", "green", "blue", "yellow", "black", "white", "orange", "purple")


def inputs(count: int) -> list[dict]:
    """``count`` unseen procedural shapes, spread over the categories, as coloured meshes."""
    categories = list_categories()
    chosen = [categories[round(i * len(categories) / count)] for i in range(count)]
    items = []
    for index, category in enumerate(chosen):
        shape = generate_shape(category, 1000 + index)
        mesh = extract_hierarchical(shape, 96).mesh
        vertex_colours(shape, mesh)
        own = set(shown_colours(mesh))
        target = next(c for c in TARGETS[index % len(TARGETS) :] + TARGETS if c not in own)
        noun = category.replace("_", " ")
        items.append(
            {
                "category": category,
                "mesh": mesh,
                "own": sorted(own),
                "target": target,
                "prompt": f"a {target} {noun}",
            }
        )
    return items


def paint(pipe, item: dict, strength: float, surface_colour: bool) -> dict:
    from gen3d.mesh import field as field_module  # the pipeline looks it up at each call

    original = field_module.SurfaceColourField
    if not surface_colour:  # the baseline: colour read where the user's surface is
        field_module.SurfaceColourField = lambda field, **_: field
    try:
        started = time.perf_counter()
        asset = pipe(
            item["prompt"],
            shape=item["mesh"],
            strength=strength,
            keep_geometry=True,
            texture_size=0,
            seed=0,
        )
        seconds = time.perf_counter() - started
    finally:
        field_module.SurfaceColourField = original
    return {
        "colour_ok": item["target"] in shown_colours(asset.mesh),
        "faces_kept": len(asset.mesh.faces) == len(item["mesh"].faces),
        "seconds": seconds,
    }


def vary(pipe, item: dict, strength: float) -> dict:
    from gen3d.pipeline import EmptyShapeError

    started = time.perf_counter()
    try:
        asset = pipe(item["prompt"], shape=item["mesh"], strength=strength, texture_size=0, seed=0)
    except EmptyShapeError:
        return {
            "empty": True,
            "f02": 0.0,
            "f05": 0.0,
            "colour_ok": False,
            "seconds": time.perf_counter() - started,
        }
    seconds = time.perf_counter() - started
    scores = compare_meshes(asset.mesh, item["mesh"], count=20_000, taus=(0.02, 0.05), iou=False)
    return {
        "empty": False,
        "f02": float(scores.f_score[0.02]),
        "f05": float(scores.f_score[0.05]),
        "colour_ok": item["target"] in shown_colours(asset.mesh),
        "seconds": seconds,
    }


def offset_colour_error(pipe, offsets=(0.0, 0.02, 0.05, 0.1)) -> list[dict]:
    import torch

    from gen3d.data.sampling import surface_samples
    from gen3d.mesh.field import FieldAdapter, SurfaceColourField
    from gen3d.shape_input import encode_shape, load_shape

    categories = ("chair", "table", "lamp", "mug", "vase", "bottle", "sofa", "bench")
    errors: dict[float, list[tuple[float, float]]] = {}
    for index, category in enumerate(categories):
        shape = generate_shape(category, 1000 + index)
        mesh = extract_hierarchical(shape, 96).mesh
        vertex_colours(shape, mesh)
        given = load_shape(mesh)
        field = pipe.vae.decode(encode_shape(pipe.vae, given))[0]
        field.query_dtype = torch.float32
        points, normals, _ = surface_samples(shape, 3000, seed=1)
        truth = np.asarray(shape.colour(points))
        for offset in offsets:
            for side in (1, -1):
                moved = given.to_model_frame(points) + side * offset * normals
                direct = FieldAdapter(field).colour(moved)
                on_surface = SurfaceColourField(field).colour(moved)
                errors.setdefault(side * offset, []).append(
                    (np.abs(direct - truth).mean(), np.abs(on_surface - truth).mean())
                )
    return [
        {
            "offset": offset,
            "direct_l1": float(np.mean([e[0] for e in found])),
            "on_surface_l1": float(np.mean([e[1] for e in found])),
        }
        for offset, found in sorted(errors.items())
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="pipeline folder (default model)")
    parser.add_argument("--shapes", type=int, default=16)
    parser.add_argument("--strengths", default="0.3,0.5,0.7,0.9,1.0")
    parser.add_argument("--parts", default="edit,offset")
    parser.add_argument("--out", default=str(ROOT / "bench_results" / "bench_edit.json"))
    args = parser.parse_args()
    from gen3d import Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    report: dict = {}
    if "offset" in args.parts:
        report["offset"] = offset_colour_error(pipe)
        print(
            "| query point off the true surface | colour L1, read there (baseline) "
            "| read on the field's surface |"
        )
        print("| --- | --- | --- |")
        for row in report["offset"]:
            print(f"| {row['offset']:+.2f} | {row['direct_l1']:.3f} | {row['on_surface_l1']:.3f} |")
    if "edit" in args.parts:
        report |= edit(pipe, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")


def edit(pipe, args) -> dict:
    strengths = [float(s) for s in args.strengths.split(",")]
    items = inputs(args.shapes)
    rows = []
    for strength in strengths:
        runs = {"surface": [], "baseline": [], "vary": []}
        for item in items:
            runs["surface"].append(paint(pipe, item, strength, surface_colour=True))
            runs["baseline"].append(paint(pipe, item, strength, surface_colour=False))
            runs["vary"].append(vary(pipe, item, strength))
        row = {
            "strength": strength,
            "paint_colour_acc": np.mean([r["colour_ok"] for r in runs["surface"]]),
            "paint_colour_acc_baseline": np.mean([r["colour_ok"] for r in runs["baseline"]]),
            "paint_faces_kept": np.mean([r["faces_kept"] for r in runs["surface"]]),
            "paint_s": np.mean([r["seconds"] for r in runs["surface"]]),
            "paint_s_baseline": np.mean([r["seconds"] for r in runs["baseline"]]),
            "vary_f02": np.mean([r["f02"] for r in runs["vary"]]),
            "vary_f05": np.mean([r["f05"] for r in runs["vary"]]),
            "vary_colour_acc": np.mean([r["colour_ok"] for r in runs["vary"]]),
            "vary_empty": int(sum(r["empty"] for r in runs["vary"])),
            "vary_s": np.mean([r["seconds"] for r in runs["vary"]]),
        }
        rows.append({k: float(v) if isinstance(v, np.floating) else v for k, v in row.items()})
        print(json.dumps(rows[-1]), flush=True)

    print(
        f"\n{len(items)} unseen shapes, each asked for a colour it lacks; CPU "
        f"({platform.processor() or platform.machine()})\n"
    )
    print(
        "| strength | paint: colour acc. (surface read / baseline) | paint: faces kept "
        "| paint s | variation: F@0.02 / F@0.05 to the input | variation: colour acc. "
        "| variation s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['strength']:.1f} | {r['paint_colour_acc']:.2f} / "
            f"{r['paint_colour_acc_baseline']:.2f} | {r['paint_faces_kept']:.0%} | "
            f"{r['paint_s']:.1f} | {r['vary_f02']:.2f} / {r['vary_f05']:.2f} | "
            f"{r['vary_colour_acc']:.2f} | {r['vary_s']:.1f} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "shapes": [{k: v for k, v in item.items() if k != "mesh"} for item in items],
                "rows": rows,
            },
            indent=1,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()

"""Benchmark view estimation (``render.pose.estimate_view``): how close the estimated camera
comes to the one a photo was taken from, and what that does to texture refinement.

    .venv/bin/python scripts/bench_pose.py                  # 24 shapes (~5 min, CPU)
    .venv/bin/python scripts/bench_pose.py --parts views --shapes 66

``views``: procedural shapes of seeds the default model never saw (1000 and up), spread over
the categories, meshed at 96^3 with their own colours and rendered (Lambert, head light, on
white, framed as gen3d frames a photo) from a random direction: azimuth anywhere, elevation
0-45 degrees. The view is estimated from each photo against the same mesh with its colours
(painting a mesh like the photo), and against the mesh without colour (silhouette only). The
error is the angle between the true and the estimated viewing directions. The baseline is
what gen3d did before: assume the reference view (azimuth 30, elevation 20).

``refine``: image to 3D from such photos with the default model, refined for 100 steps from
the estimated view against the assumed reference view; scored by PSNR of the refined asset's
albedo against the true shape's, from 8 directions round it, over pixels both cover.

Prints Markdown tables and writes bench_results/bench_pose.json (``--parts`` picks parts).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from gen3d.data.procedural import generate_shape, list_categories
from gen3d.images import object_mask
from gen3d.mesh import extract_hierarchical, vertex_colours
from render import RenderMesh, render_mesh
from render.pose import estimate_view

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_VIEW = (30.0, 20.0)
SIZE = 384


def direction(view: tuple[float, float]) -> np.ndarray:
    azimuth, elevation = (math.radians(v) for v in view)
    return np.array(
        [
            math.cos(elevation) * math.sin(azimuth),
            math.sin(elevation),
            math.cos(elevation) * math.cos(azimuth),
        ]
    )


def angle(a: tuple[float, float], b: tuple[float, float]) -> float:
    cosine = float(np.clip(direction(a) @ direction(b), -1.0, 1.0))
    return math.degrees(math.acos(cosine))


def photo(mesh: RenderMesh, view: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A Lambert render from ``view``, framed like a prepared photo, and its object mask."""
    from PIL import Image

    from gen3d.pipeline import reference_cameras

    cameras = reference_cameras(mesh.vertices, view, SIZE)
    colour = render_mesh(mesh, cameras, shading="lambert").color[0].clamp(0, 1)
    image = Image.fromarray((colour * 255 + 0.5).to(torch.uint8).numpy())
    mask = torch.from_numpy(object_mask(image))
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0), mask


def inputs(count: int, seed: int) -> list[dict]:
    categories = list_categories()
    spread = (round(i * len(categories) / count) % len(categories) for i in range(count))
    chosen = [categories[j] for j in spread]
    rng = random.Random(seed)
    items = []
    for index, category in enumerate(chosen):
        shape = generate_shape(category, 1000 + index)
        mesh = extract_hierarchical(shape, 96).mesh
        vertex_colours(shape, mesh)
        view = (rng.uniform(0.0, 360.0), rng.uniform(0.0, 45.0))
        items.append({"category": category, "shape": shape, "mesh": mesh, "view": view})
    return items


def summary(errors: list[float]) -> dict:
    values = np.asarray(errors)
    return {
        "median": float(np.median(values)),
        "within_10": float((values <= 10.0).mean()),
        "within_20": float((values <= 20.0).mean()),
        "mean": float(values.mean()),
    }


def bench_views(items: list[dict]) -> dict:
    rows = {"coloured": [], "silhouette": [], "reference (baseline)": []}
    seconds = []
    for item in items:
        coloured = RenderMesh.from_trimesh(item["mesh"])
        image, mask = photo(coloured, item["view"])
        plain = RenderMesh(coloured.vertices, coloured.faces)
        started = time.perf_counter()
        found = estimate_view(coloured, image, mask)
        seconds.append(time.perf_counter() - started)
        silhouette = estimate_view(plain, image, mask)
        rows["coloured"].append(angle(found.view, item["view"]))
        rows["silhouette"].append(angle(silhouette.view, item["view"]))
        rows["reference (baseline)"].append(angle(REFERENCE_VIEW, item["view"]))
        print(
            f"{item['category']:>14} true {item['view'][0]:6.1f} {item['view'][1]:5.1f}  "
            f"coloured {found.azimuth:6.1f} {found.elevation:5.1f} (iou {found.iou:.3f})  "
            f"silhouette {silhouette.azimuth:6.1f} {silhouette.elevation:5.1f}",
            flush=True,
        )
    result = {name: summary(errors) for name, errors in rows.items()}
    result["seconds_per_estimate"] = float(np.mean(seconds))
    result["faces_mean"] = float(np.mean([len(item["mesh"].faces) for item in items]))
    print("\n| estimate | median error (deg) | within 10 deg | within 20 deg |")
    print("|---|---|---|---|")
    for name in rows:
        r = result[name]
        print(f"| {name} | {r['median']:.1f} | {r['within_10']:.2f} | {r['within_20']:.2f} |")
    print(
        f"\n{result['seconds_per_estimate']:.2f} s per estimate "
        f"({result['faces_mean']:.0f} faces on average)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="views,refine")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    parts = set(args.parts.split(","))
    results: dict = {"machine": platform.processor() or platform.machine()}
    items = inputs(args.shapes, args.seed)
    if "views" in parts:
        results["views"] = bench_views(items)
    out = ROOT / "bench_results" / "bench_pose.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

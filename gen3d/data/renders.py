"""Renders of dataset shapes: the image encoder's training inputs.

Image-to-3D takes a photo; the small image encoder learns from renders of the training
shapes, framed exactly as ``gen3d.images.prepare_image`` frames an input (the object
centred, its longest side across 80% of the square, on white). Every shape is rendered from
the pipeline's reference view (azimuth 30, elevation 20 by default) and, with
``views_per_shape > 1``, from more views at random (any azimuth, elevation 0-45 degrees,
where people take photos from), so that an encoder trained on them knows a shape from any
side. ``reference_render`` makes one such image; ``cache_renders`` renders a whole dataset
once, in the latent cache's order, for DiT training.

Example::

    from gen3d.data.procedural import generate_shape
    reference_render(generate_shape("chair", 3), (30.0, 20.0), 128).save("chair.png")
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .dataset import ShapeDataset
from .procedural import generate_shape
from .shards import DatasetError, run_in_workers

RENDERS_FILE = "renders.safetensors"
RENDERS_META = "renders.json"


#: elevations (degrees) of the random extra views: from level up to looking down at 45
EXTRA_VIEW_ELEVATIONS = (0.0, 45.0)


def reference_render(
    shape: Any, view: tuple[float, float], size: int = 128, mesh_resolution: int = 64
) -> Any:
    """A shape (anything with ``sdf`` and ``colour``) meshed at ``mesh_resolution``, coloured
    and rendered (Lambert, head light) from ``view`` on white, framed like an input image."""
    return _renders(shape, [view], size, mesh_resolution)[0]


def _renders(
    shape: Any, views: Sequence[tuple[float, float]], size: int, mesh_resolution: int = 64
) -> list[Any]:
    """``reference_render`` for several views, meshing the shape once."""
    from PIL import Image

    from gen3d.mesh import extract_hierarchical, vertex_colours
    from gen3d.pipeline import reference_cameras
    from render import RenderMesh, render_mesh

    mesh = extract_hierarchical(shape, mesh_resolution).mesh
    vertex_colours(shape, mesh)
    drawable = RenderMesh.from_trimesh(mesh)
    images = []
    for view in views:
        cameras = reference_cameras(drawable.vertices, view, size)
        colour = render_mesh(drawable, cameras, shading="lambert").color[0]
        pixels = (colour.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
        images.append(Image.fromarray(pixels))
    return images


def random_view(rng: np.random.Generator) -> tuple[float, float]:
    """A view a photo might be taken from: any azimuth, elevation in
    ``EXTRA_VIEW_ELEVATIONS``."""
    low, high = EXTRA_VIEW_ELEVATIONS
    return float(rng.uniform(0.0, 360.0)), float(rng.uniform(low, high))


def shape_views(
    view: tuple[float, float], count: int, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """``view`` (the reference view) and ``count - 1`` random views (``random_view``)."""
    return [tuple(view), *(random_view(rng) for _ in range(count - 1))]


#: shapes per part file of an unfinished render cache: what a resumed run redoes at most
RENDER_CHUNK = 100


def cache_renders(
    dataset_root: str | Path,
    out: str | Path,
    *,
    view: tuple[float, float],
    size: int,
    views_per_shape: int = 1,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Render every shape of a procedural dataset (all splits, the latent cache's order) at
    ``size`` pixels from ``view`` and ``views_per_shape - 1`` random views (``seed``);
    writes ``renders.safetensors`` (``images (N, views_per_shape, 3, size, size)`` uint8)
    and ``renders.json`` (the views of each shape). Returns ``out``.

    Shapes are rendered in parts of ``RENDER_CHUNK`` kept in ``out/parts`` until all are
    done, so an interrupted run resumes where it stopped (the same arguments are required);
    ``workers`` processes render parts side by side."""
    if views_per_shape < 1:
        raise ValueError(f"views_per_shape must be at least 1, not {views_per_shape}")
    data = ShapeDataset(dataset_root, split=None, n_surface=1, n_near=1, n_volume=1, seed=0)
    margin = float(data.spec.get("margin", 0.1))
    not_procedural = [e["id"] for e in data.entries if e.get("source") != "procedural"]
    if not_procedural:
        raise DatasetError(
            f"{dataset_root}: image conditioning renders procedural shapes only; "
            f"{len(not_procedural)} entries are not (first: {not_procedural[0]})"
        )
    rng = np.random.default_rng(seed)
    views = [shape_views(view, views_per_shape, rng) for _ in data.entries]
    meta = {"ids": [e["id"] for e in data.entries], "view": list(view), "size": size}
    meta["views"] = [[list(v) for v in shape] for shape in views]
    out = Path(out)
    parts = _prepare_parts(out / "parts", meta)
    shapes = [(e["category"], e["seed"]) for e in data.entries]
    jobs = [
        (parts / f"part-{index:05d}.safetensors", start)
        for index, start in enumerate(range(0, len(shapes), RENDER_CHUNK))
    ]
    arguments = [
        (
            path,
            shapes[start : start + RENDER_CHUNK],
            views[start : start + RENDER_CHUNK],
            size,
            margin,
        )
        for path, start in jobs
        if not path.is_file()
    ]
    already = len(shapes) - sum(len(job[1]) for job in arguments)
    bar = tqdm(
        total=len(shapes),
        initial=already,
        desc="rendering shapes",
        unit="shape",
        disable=not progress,
    )
    run_in_workers(
        _render_part, arguments, workers, on_done=lambda _index, count: bar.update(count)
    )
    bar.close()
    images = torch.cat([load_file(str(path))["images"] for path, _ in jobs])
    save_file({"images": images.contiguous()}, str(out / RENDERS_FILE))
    (out / RENDERS_META).write_text(json.dumps(meta), encoding="utf-8")
    shutil.rmtree(parts)
    return out


def _prepare_parts(parts: Path, meta: dict[str, Any]) -> Path:
    """The part folder of an unfinished cache for ``meta``; refuses one begun with other
    arguments, whose parts would not fit together."""
    spec = parts / "spec.json"
    if spec.is_file():
        if json.loads(spec.read_text(encoding="utf-8")) != meta:
            raise DatasetError(
                f"{parts} holds an unfinished render cache made with other arguments; "
                "delete it or run the same command again"
            )
        return parts
    parts.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(meta), encoding="utf-8")
    return parts


def _render_part(
    path: Path,
    shapes: list[tuple[str, int]],
    views: list[list[tuple[float, float]]],
    size: int,
    margin: float,
) -> int:
    """Render ``shapes`` from their ``views`` into the part file ``path``; returns how many
    shapes it rendered. Written to a temporary name first, so a part file is always whole."""
    from gen3d.images import prepare_image

    images = torch.empty(len(shapes), len(views[0]), 3, size, size, dtype=torch.uint8)
    for index, (category, shape_seed) in enumerate(shapes):
        shape = generate_shape(category, shape_seed, margin=margin)
        # Render at twice the size, then frame it as inference frames a user's image.
        for number, image in enumerate(_renders(shape, views[index], size * 2)):
            framed = prepare_image(image, size)
            images[index, number] = torch.from_numpy(np.array(framed)).permute(2, 0, 1)
    temporary = path.with_suffix(".tmp")
    save_file({"images": images}, str(temporary))
    os.replace(temporary, path)
    return len(shapes)


def load_renders(folder: str | Path, ids: list[str]) -> torch.Tensor:
    """The cached renders of ``ids`` (uint8 ``(len(ids), views, 3, S, S)``; a cache from
    before several views per shape has one), checked against the cache's own ids so that a
    render can never be paired with another shape."""
    folder = Path(folder)
    if not (folder / RENDERS_META).is_file():
        raise DatasetError(f"{folder} has no renders (cache_renders makes them)")
    meta = json.loads((folder / RENDERS_META).read_text(encoding="utf-8"))
    position = {shape_id: index for index, shape_id in enumerate(meta["ids"])}
    missing = [shape_id for shape_id in ids if shape_id not in position]
    if missing:
        raise DatasetError(f"{folder}: no render of {len(missing)} shapes (first {missing[0]})")
    images = load_file(str(folder / RENDERS_FILE))["images"]
    if images.ndim == 4:  # one view per shape
        images = images[:, None]
    return images[torch.tensor([position[shape_id] for shape_id in ids])]

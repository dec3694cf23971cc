"""Reference-view renders of dataset shapes: the image encoder's training inputs.

Image-to-3D takes a photo as seen from the pipeline's reference view (azimuth 30, elevation
20 by default); the small image encoder learns from renders of the training shapes from that
view, framed exactly as ``gen3d.images.prepare_image`` frames an input (the object centred,
its longest side across 80% of the square, on white). ``reference_render`` makes one such
image; ``cache_renders`` renders a whole dataset once, in the latent cache's order, for DiT
training.

Example::

    from gen3d.data.procedural import generate_shape
    reference_render(generate_shape("chair", 3), (30.0, 20.0), 128).save("chair.png")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .dataset import ShapeDataset
from .procedural import generate_shape
from .shards import DatasetError

RENDERS_FILE = "renders.safetensors"
RENDERS_META = "renders.json"


def reference_render(
    shape: Any, view: tuple[float, float], size: int = 128, mesh_resolution: int = 64
) -> Any:
    """A shape (anything with ``sdf`` and ``colour``) meshed at ``mesh_resolution``, coloured
    and rendered (Lambert, head light) from ``view`` on white, framed like an input image."""
    from PIL import Image

    from gen3d.mesh import extract_hierarchical, vertex_colours
    from gen3d.pipeline import reference_cameras
    from render import RenderMesh, render_mesh

    mesh = extract_hierarchical(shape, mesh_resolution).mesh
    vertex_colours(shape, mesh)
    drawable = RenderMesh.from_trimesh(mesh)
    cameras = reference_cameras(drawable.vertices, view, size)
    colour = render_mesh(drawable, cameras, shading="lambert").color[0]
    return Image.fromarray((colour.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy())


def cache_renders(
    dataset_root: str | Path,
    out: str | Path,
    *,
    view: tuple[float, float],
    size: int,
    progress: bool = True,
) -> Path:
    """Render every shape of a procedural dataset (all splits, the latent cache's order) at
    ``size`` pixels; writes ``renders.safetensors`` (``images (N, 3, size, size)`` uint8) and
    ``renders.json``. Returns ``out``."""
    from gen3d.images import prepare_image

    data = ShapeDataset(dataset_root, split=None, n_surface=1, n_near=1, n_volume=1, seed=0)
    margin = float(data.spec.get("margin", 0.1))
    not_procedural = [e["id"] for e in data.entries if e.get("source") != "procedural"]
    if not_procedural:
        raise DatasetError(
            f"{dataset_root}: image conditioning renders procedural shapes only; "
            f"{len(not_procedural)} entries are not (first: {not_procedural[0]})"
        )
    images = torch.empty(len(data.entries), 3, size, size, dtype=torch.uint8)
    bar = tqdm(data.entries, desc="rendering shapes", unit="shape", disable=not progress)
    for index, entry in enumerate(bar):
        shape = generate_shape(entry["category"], entry["seed"], margin=margin)
        # Render at twice the size, then frame it as inference frames a user's image.
        framed = prepare_image(reference_render(shape, view, size * 2), size)
        images[index] = torch.from_numpy(np.array(framed)).permute(2, 0, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({"images": images.contiguous()}, str(out / RENDERS_FILE))
    meta = {"ids": [e["id"] for e in data.entries], "view": list(view), "size": size}
    (out / RENDERS_META).write_text(json.dumps(meta), encoding="utf-8")
    return out


def load_renders(folder: str | Path, ids: list[str]) -> torch.Tensor:
    """The cached renders of ``ids`` (uint8 ``(len(ids), 3, S, S)``), checked against the
    cache's own ids so that a render can never be paired with another shape."""
    folder = Path(folder)
    if not (folder / RENDERS_META).is_file():
        raise DatasetError(f"{folder} has no renders (cache_renders makes them)")
    meta = json.loads((folder / RENDERS_META).read_text(encoding="utf-8"))
    position = {shape_id: index for index, shape_id in enumerate(meta["ids"])}
    missing = [shape_id for shape_id in ids if shape_id not in position]
    if missing:
        raise DatasetError(f"{folder}: no render of {len(missing)} shapes (first {missing[0]})")
    images = load_file(str(folder / RENDERS_FILE))["images"]
    return images[torch.tensor([position[shape_id] for shape_id in ids])]

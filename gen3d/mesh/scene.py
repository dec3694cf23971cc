"""One mesh from a loaded file: a scene's parts in world space, with their colours kept.

trimesh flattens scenes with ``Scene.dump()``, which loses two common kinds of glTF colour:
a primitive with a material keeps its vertex colours (``COLOR_0``) only in
``vertex_attributes``, and an untextured material's ``baseColorFactor`` does not survive
concatenating parts with different materials. ``flatten_scene`` turns both into vertex
colours first, sRGB-encoded as gen3d's colours are (glTF stores them linear).

Example::

    import trimesh
    mesh = flatten_scene(trimesh.load("chair.glb", process=False), gltf=True)
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import trimesh

from render.mesh import material_base_colour

from .colour_space import linear_to_srgb

log = logging.getLogger(__name__)

GLTF_SUFFIXES = (".glb", ".gltf")


def flatten_scene(loaded: Any, *, gltf: bool) -> trimesh.Trimesh | None:
    """The triangle parts of ``loaded`` (a ``Trimesh`` or a ``Scene``) as one mesh in world
    space, or None when it has none. ``gltf`` says the colours are glTF's (linear)."""
    placed = _placed_parts(loaded)
    if not placed:
        return None
    parts = []
    for geometry, transform in placed:
        colours = _untextured_colours(geometry, gltf=gltf)
        if colours is None and geometry is loaded:
            return loaded  # nothing to move or recolour: the caller's own mesh
        part = geometry.copy()
        part.apply_transform(transform)
        if colours is not None:
            part.visual = trimesh.visual.ColorVisuals(part, vertex_colors=colours)
        parts.append(part)
    return parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)


def _placed_parts(loaded: Any) -> list[tuple[trimesh.Trimesh, np.ndarray]]:
    """The triangle parts of ``loaded`` with their transforms to world space, in the order
    ``flatten_scene`` joins them (empty for anything else)."""
    if isinstance(loaded, trimesh.Trimesh):
        placed = [(loaded, np.eye(4))]
    elif isinstance(loaded, trimesh.Scene):
        placed = [
            (loaded.geometry.get(name), transform)
            for transform, name in (loaded.graph[node] for node in loaded.graph.nodes_geometry)
        ]
    else:
        return []
    return [
        (geometry, transform)
        for geometry, transform in placed
        if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces) > 0
    ]


#: texels of the unit square at which parts' UV layouts are compared for overlap
ATLAS_CHECK_SIZE = 256
#: the share of covered texels more than one part may cover before the parts count as
#: overlapping (touching chart borders cover a few texels twice)
ATLAS_OVERLAP_TOLERANCE = 0.01


def shared_atlas_uv(loaded: Any) -> np.ndarray | None:
    """The texture coordinates ``(V, 2)`` of ``loaded`` (a ``Trimesh`` or a ``Scene``) in
    ``flatten_scene``'s vertex order, when one texture can serve them all: one part with
    UVs, or several parts whose UV layouts share one atlas without overlapping. None when a
    part has no UVs, or when parts' layouts overlap (each with its own texture, say), which
    one baked texture could not serve."""
    parts = [part for part, _ in _placed_parts(loaded)]
    uvs = [getattr(part.visual, "uv", None) for part in parts]
    if not parts or any(
        uv is None or len(uv) != len(part.vertices) for uv, part in zip(uvs, parts, strict=True)
    ):
        return None
    uvs = [np.asarray(uv, dtype=np.float64) for uv in uvs]
    if len(parts) > 1 and _layouts_overlap(uvs, [part.faces for part in parts]):
        log.info("%d parts whose UV layouts overlap: one texture cannot serve them", len(parts))
        return None
    return np.concatenate(uvs)


def _layouts_overlap(uvs: list[np.ndarray], faces: list[np.ndarray]) -> bool:
    """Whether the parts' UV triangles cover the same texels (beyond touching borders)."""
    import torch

    from render.bake import texel_positions

    cover = torch.zeros((ATLAS_CHECK_SIZE, ATLAS_CHECK_SIZE), dtype=torch.int32)
    for uv, part_faces in zip(uvs, faces, strict=True):
        if not np.isfinite(uv).all():
            return True  # not a layout one texture can take; _bakeable says why
        corners = torch.as_tensor(uv, dtype=torch.float32)
        _, covered = texel_positions(
            torch.zeros((len(uv), 3)),
            torch.as_tensor(np.asarray(part_faces), dtype=torch.long),
            corners,
            ATLAS_CHECK_SIZE,
            backend="torch",
        )
        cover += covered.to(torch.int32)
    used = int((cover > 0).sum())
    return used > 0 and int((cover > 1).sum()) > ATLAS_OVERLAP_TOLERANCE * used


def _untextured_colours(mesh: trimesh.Trimesh, *, gltf: bool) -> np.ndarray | None:
    """``uint8`` sRGB RGBA per vertex for a part without a colour texture: its vertex colours
    times its material's base colour, or that base colour alone; None when it has a texture
    or no colour at all."""
    from render.mesh import material_image

    visual = mesh.visual
    material = getattr(visual, "material", None)
    if material_image(material) is not None:
        return None
    colours = getattr(visual, "vertex_attributes", {}).get("color")
    if colours is None and getattr(visual, "kind", None) == "vertex":
        colours = visual.vertex_colors
    factor = material_base_colour(material)
    if colours is None and factor is None:
        return None
    n = len(mesh.vertices)
    rgba = np.ones((n, 4)) if colours is None else _unit_rgba(np.asarray(colours), n)
    if rgba is None:
        return None
    if factor is not None:
        rgba = rgba * factor
    if gltf:  # glTF multiplies in linear space; gen3d's colours are sRGB-encoded
        rgba[:, :3] = linear_to_srgb(rgba[:, :3])
    return np.round(np.clip(rgba, 0.0, 1.0) * 255.0).astype(np.uint8)


def _unit_rgba(colours: np.ndarray, n_vertices: int) -> np.ndarray | None:
    if colours.ndim != 2 or len(colours) != n_vertices or colours.shape[1] not in (3, 4):
        return None
    scale = 255.0 if colours.dtype.kind in "ui" or colours.max() > 1.0 else 1.0
    rgba = np.ones((n_vertices, 4))
    rgba[:, : colours.shape[1]] = colours / scale
    return rgba

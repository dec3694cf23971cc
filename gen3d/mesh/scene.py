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

from typing import Any

import numpy as np
import trimesh

from render.mesh import material_base_colour

from .colour_space import linear_to_srgb

GLTF_SUFFIXES = (".glb", ".gltf")


def flatten_scene(loaded: Any, *, gltf: bool) -> trimesh.Trimesh | None:
    """The triangle parts of ``loaded`` (a ``Trimesh`` or a ``Scene``) as one mesh in world
    space, or None when it has none. ``gltf`` says the colours are glTF's (linear)."""
    if isinstance(loaded, trimesh.Trimesh):
        placed = [(loaded, np.eye(4))]
    elif isinstance(loaded, trimesh.Scene):
        placed = [
            (loaded.geometry.get(name), transform)
            for transform, name in (loaded.graph[node] for node in loaded.graph.nodes_geometry)
        ]
    else:
        return None
    parts = []
    for geometry, transform in placed:
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue
        colours = _untextured_colours(geometry, gltf=gltf)
        if colours is None and geometry is loaded:
            return loaded  # nothing to move or recolour: the caller's own mesh
        part = geometry.copy()
        part.apply_transform(transform)
        if colours is not None:
            part.visual = trimesh.visual.ColorVisuals(part, vertex_colors=colours)
        parts.append(part)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)


def single_part_uv(loaded: Any) -> np.ndarray | None:
    """The texture coordinates ``(V, 2)`` of a one-part mesh (a ``Trimesh``, or a scene with
    one mesh), in ``flatten_scene``'s vertex order; None for several parts (joining them
    would repack their UVs) or a part without UVs."""
    if isinstance(loaded, trimesh.Scene):
        nodes = list(loaded.graph.nodes_geometry)
        if len(nodes) != 1:
            return None
        loaded = loaded.geometry.get(loaded.graph[nodes[0]][1])
    if not isinstance(loaded, trimesh.Trimesh):
        return None
    uv = getattr(loaded.visual, "uv", None)
    if uv is None or len(uv) != len(loaded.vertices):
        return None
    return np.asarray(uv, dtype=np.float64)


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

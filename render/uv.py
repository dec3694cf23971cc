"""UV unwrapping with xatlas.

xatlas cuts the surface into charts, flattens each with little distortion and packs them
into the unit square with ``padding`` texels between charts (room for the seam dilation of
the bake, so that bilinear filtering and mip-maps do not bleed one chart into another).
Vertices on a seam are split: the unwrapped mesh has more vertices than the input, and
``vertex_map`` says which input vertex each came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class UnwrapError(ValueError):
    """A mesh xatlas cannot unwrap (no faces, non-finite positions, bad indices)."""


@dataclass
class UnwrappedMesh:
    vertices: np.ndarray  # (V', 3) float32
    faces: np.ndarray  # (F, 3) int64, the input's faces in the input's order
    uv: np.ndarray  # (V', 2) float32 in [0, 1], v up (OpenGL / trimesh convention)
    vertex_map: np.ndarray  # (V',) int64: the input vertex each output vertex copies


def unwrap_uv(
    vertices: np.ndarray, faces: np.ndarray, *, texture_size: int = 1024, padding: int = 4
) -> UnwrappedMesh:
    """Charts and UVs for a mesh, packed for a ``texture_size`` square texture."""
    import xatlas

    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise UnwrapError("unwrap_uv needs (V, 3) vertices and (F, 3) faces")
    if len(faces) == 0:
        raise UnwrapError("cannot unwrap a mesh with no faces")
    if not np.isfinite(vertices).all():
        raise UnwrapError("cannot unwrap a mesh whose vertices contain NaN or infinity")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise UnwrapError(f"faces index vertices outside 0..{len(vertices) - 1}")
    if not 16 <= texture_size <= 8192:
        raise UnwrapError(f"texture_size must be in 16..8192, got {texture_size}")

    atlas = xatlas.Atlas()
    atlas.add_mesh(vertices, np.ascontiguousarray(faces, dtype=np.uint32))
    pack = xatlas.PackOptions()
    pack.resolution = texture_size
    pack.padding = padding
    pack.bilinear = True
    atlas.generate(xatlas.ChartOptions(), pack)
    vertex_map, new_faces, uv = atlas[0]
    vertex_map = vertex_map.astype(np.int64)
    return UnwrappedMesh(
        vertices=vertices[vertex_map],
        faces=new_faces.astype(np.int64),
        uv=np.ascontiguousarray(uv, dtype=np.float32),
        vertex_map=vertex_map,
    )

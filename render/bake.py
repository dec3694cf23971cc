"""Bake a colour function of 3D position (a VAE field's colour) into a UV texture.

The mesh is rasterized in UV space (each triangle drawn at its UV coordinates), which gives
the 3D surface point under every covered texel; the colour function is queried there in
chunks. Texels no triangle covers (chart borders, the gaps between charts) then take the
colour of the nearest covered texel, so bilinear filtering and mip-maps never pull in
background across a seam.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from render.backend import RasterBackend, get_backend

ColourFunction = Callable[[Tensor], Tensor]  # (N, 3) points -> (N, 3) colours in [0, 1]


def texel_positions(
    vertices: Tensor,
    faces: Tensor,
    uv: Tensor,
    size: int,
    backend: str | RasterBackend = "auto",
) -> tuple[Tensor, Tensor]:
    """The surface point ``(size, size, 3)`` under each texel, and the covered mask
    ``(size, size)``. Row 0 is the top of the texture (v = 1)."""
    return texel_attributes(vertices, faces, uv, size, backend)


def texel_attributes(
    attributes: Tensor,
    faces: Tensor,
    uv: Tensor,
    size: int,
    backend: str | RasterBackend = "auto",
) -> tuple[Tensor, Tensor]:
    """Per-vertex ``attributes (V, C)`` (positions, normals) interpolated under each texel
    ``(size, size, C)``, and the covered mask ``(size, size)``. Row 0 is the top of the
    texture (v = 1)."""
    raster = get_backend(backend, attributes.device) if isinstance(backend, str) else backend
    clip = torch.cat([uv * 2.0 - 1.0, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], 1)
    rast = raster.rasterize(clip[None], faces, (size, size))
    values = raster.interpolate(attributes, rast, faces)[0]
    covered = rast[0, ..., 3] > 0
    # Raster row 0 is v = 0 (the bottom); textures are stored top-down.
    return values.flip(0), covered.flip(0)


def fill_uncovered(texture: Tensor, covered: Tensor) -> Tensor:
    """Give every uncovered texel the value of its nearest covered texel (seam dilation)."""
    if bool(covered.all()) or not bool(covered.any()):
        return texture
    _, (rows, cols) = ndimage.distance_transform_edt(
        ~covered.cpu().numpy(), return_distances=True, return_indices=True
    )
    rows = torch.from_numpy(rows.astype(np.int64)).to(texture.device)
    cols = torch.from_numpy(cols.astype(np.int64)).to(texture.device)
    return texture[rows, cols]


@torch.no_grad()
def bake_texture(
    vertices: Tensor,
    faces: Tensor,
    uv: Tensor,
    colour: ColourFunction,
    size: int = 1024,
    *,
    chunk: int = 262_144,
    backend: str | RasterBackend = "auto",
) -> tuple[Tensor, Tensor]:
    """A ``(size, size, 3)`` texture of ``colour`` on the surface, and the covered mask.

    ``colour`` is called on at most ``chunk`` points at a time.
    """
    points, covered = texel_positions(vertices, faces, uv, size, backend)
    texture = torch.zeros(size, size, 3, dtype=torch.float32, device=vertices.device)
    surface = points[covered]
    values = [colour(surface[start : start + chunk]) for start in range(0, len(surface), chunk)]
    if values:
        texture[covered] = torch.cat(values).to(texture).clamp(0.0, 1.0)
    return fill_uncovered(texture, covered), covered

"""Cast shadows in a photo, so that refinement does not paint them on.

Under a lamp, one part of an object shades another: a chair's seat darkens its crossbars, a
mug's handle its side. The fitted shading (``render.lighting``) is a smooth function of the
normal, so it cannot hold them: a surface that faces the lamp but is hidden from it is
predicted lit, and refinement paints its shadow on as dark paint, seen from every side.

Knowing the mesh and the lamp (the direction the fitted shading points at,
``render.highlights.lamp_direction``), the hidden surfaces are found with a shadow map
(Williams, 1978): the mesh's depth seen from the lamp, orthographic since the lamp is far
compared with the object; a surface point further from the lamp than the depth the map holds
where it falls is hidden. Each point is pushed out along its normal by two of the map's
texels first, and compared with the 3x3 texels around it (percentage-closer filtering), so
that a lit surface does not shadow itself and shadow edges come out soft.

How dark the shadows are is not assumed: ``render.lighting.fit_light`` fits it with the rest
of the shading, as one more term of the log shading (``shadow_term``), which the neighbour
differences see as jumps at the shadows' edges. A lamp guessed wrong casts shadows where the
photo shows none, the fit gives them almost no darkening, and refinement keeps the fit without
them (``MAX_SHADOW_LIGHT``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from render.backend import RasterBackend, get_backend
from render.camera import Cameras, look_at, orthographic
from render.mesh import RenderMesh

#: the shadow map's side in texels (the object's bounding sphere fills it)
SHADOW_MAP_SIZE = 512
#: surfaces are pushed this many texels out along their normals before the test
NORMAL_OFFSET = 2.0
#: and count as hidden only this many texels (in depth) behind the map's surface
DEPTH_BIAS = 1.5
#: the shadow term rises from 0 to 1 as the surface turns from edge-on to the lamp to this
#: cosine: a surface almost edge-on gets little of the lamp's light even when not hidden
#: (the fitted shading holds that), so hiding it takes little away
FACING_RAMP = 0.2
#: a fitted shadow keeping more than this share of the light is taken as no shadow at all
MAX_SHADOW_LIGHT = 0.9
#: fewer shadowed pixels than this (shadow term over 0.5) are not worth a fit
MIN_SHADOW_PIXELS = 20


def lamp_visibility(
    mesh: RenderMesh,
    points: Tensor,
    normals: Tensor,
    lamp: Tensor,
    *,
    resolution: int = SHADOW_MAP_SIZE,
    backend: str | RasterBackend = "auto",
) -> Tensor:
    """The share ``(N,)`` in [0, 1] of the lamp's light that reaches each surface point
    ``points (N, 3)`` with unit ``normals (N, 3)``, from a lamp far away in the direction
    ``lamp (3,)``: 1 where nothing of the mesh is in the way, 0 where it is, in between at a
    shadow's edge. Surfaces facing away from the lamp are not told apart from lit ones (their
    darkness is the shading's)."""
    vertices = mesh.vertices
    lamp = torch.nn.functional.normalize(lamp.to(vertices), dim=0)
    centre = (vertices.amax(0) + vertices.amin(0)) / 2.0
    radius = float((vertices - centre).norm(dim=-1).max().clamp_min(1e-6))
    eye = centre + lamp * 2.0 * radius
    height = 2.05 * radius  # the bounding sphere with a texel to spare
    near, far = 0.5 * radius, 3.5 * radius
    camera = Cameras(
        look_at(eye.cpu(), centre.cpu()).to(vertices),
        orthographic(height, 1.0, near, far).to(vertices),
        resolution,
    )
    raster = get_backend(backend, vertices.device) if isinstance(backend, str) else backend
    with torch.no_grad():
        rast = raster.rasterize(camera.to_clip(vertices), mesh.faces, (resolution, resolution))[0]
        depth_map = torch.where(rast[..., 3] > 0, rast[..., 2], torch.full_like(rast[..., 2], 2.0))
        texel = height / resolution
        moved = points.to(vertices) + normals.to(vertices) * (NORMAL_OFFSET * texel)
        clip = camera.to_clip(moved)[0]  # orthographic: w = 1
        # The rasterizer's pixel centres are at half-integers of NDC * size / 2; row 0 is NDC
        # y = -1.
        column = ((clip[:, 0] + 1.0) * (0.5 * resolution) - 0.5).round().long()
        row = ((clip[:, 1] + 1.0) * (0.5 * resolution) - 0.5).round().long()
        depth = clip[:, 2] - DEPTH_BIAS * texel * 2.0 / (far - near)  # NDC z per world unit
        lit = torch.zeros_like(depth)
        for down in (-1, 0, 1):
            for across in (-1, 0, 1):
                r, c = row + down, column + across
                inside = (r >= 0) & (r < resolution) & (c >= 0) & (c < resolution)
                nearest = depth_map[r.clamp(0, resolution - 1), c.clamp(0, resolution - 1)]
                lit += (~inside | (depth <= nearest)).to(lit.dtype)
    return lit / 9.0


def shadow_term(
    mesh: RenderMesh,
    points: Tensor,
    normals: Tensor,
    mask: Tensor,
    lamps: list[Tensor | None],
    *,
    backend: str | RasterBackend = "auto",
) -> Tensor | None:
    """How much of each pixel's lamp light is cast off by another part ``(B, H, W)`` in
    [0, 1], for images with surface ``points`` and unit ``normals (B, H, W, 3)`` over ``mask
    (B, H, W)``, each lit by the lamp ``lamps[b]`` (None: no lamp, no shadows): hidden from the
    lamp times how squarely the surface faces it (``FACING_RAMP``). None when fewer than
    ``MIN_SHADOW_PIXELS`` pixels are mostly shadowed."""
    term = torch.zeros(mask.shape, dtype=points.dtype, device=points.device)
    for index, lamp in enumerate(lamps):
        where = mask[index]
        if lamp is None or not bool(where.any()):
            continue
        lamp = torch.nn.functional.normalize(lamp.to(points), dim=0)
        n = normals[index][where]
        facing = ((n @ lamp) / FACING_RAMP).clamp(0.0, 1.0)
        seen = facing > 0
        hidden = torch.zeros_like(facing)
        if bool(seen.any()):
            visible = lamp_visibility(
                mesh, points[index][where][seen], n[seen], lamp, backend=backend
            )
            hidden[seen] = 1.0 - visible
        term[index][where] = hidden * facing
    if int((term > 0.5).sum()) < MIN_SHADOW_PIXELS:
        return None
    return term

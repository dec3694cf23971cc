"""Cast shadows in a photo, so that refinement does not paint them on.

Under a lamp, one part of an object shades another: a chair's seat darkens its crossbars, a
mug's handle its side. The fitted shading (``render.lighting``) is a smooth function of the
normal, so it cannot hold them: a surface that faces the lamp but is hidden from it is
predicted lit, and refinement paints its shadow on as dark paint, seen from every side.

Knowing the mesh and the lamp (the direction the fitted shading points at, found as below),
the hidden surfaces are found with a shadow map (Williams, 1978): the mesh's depth seen from
the lamp, orthographic since the lamp is far compared with the object; a surface point
further from the lamp than the depth the map holds where it falls is hidden. Each point is
pushed out along its normal by two of the map's texels first, and compared with the 3x3
texels around it (percentage-closer filtering), so that a lit surface does not shadow
itself and shadow edges come out soft.

Cast shadows move far with the lamp, so it must be found closely. The linear fit of the
shading against the normal that tells whether a photo has a lamp at all
(``render.highlights.lamp_direction``) counts surfaces turned away from the lamp as lit
negatively, which pulls it 5-65 degrees off (median 13, on 12 procedural shapes lit from
above and to the side); fitting the clamped cosine ``a + b * max(n . l, 0)`` instead
(``shading_lamp``) is 2-13 degrees off (median 4). Lamps within ``LAMP_SEARCH`` degrees of
that are then tried, each scored by how much of the photo's unexplained log-brightness
steps between neighbouring pixels (the photo over the fitted shading) its shadows' edges
explain: one darkening per lamp, fitted in least absolute deviations (a weighted median), as
the lighting fit weighs them. The search casts from a simplified copy of the mesh
(``SEARCH_FACES``) on a coarser map; the lamp it keeps casts from the full mesh.

How dark the shadows are is not assumed: ``render.lighting.fit_light`` fits it with the rest
of the shading, as one more term of the log shading (``shadow_term``), which the neighbour
differences see as jumps at the shadows' edges. Where the photo shows no cast shadow, the
best lamp's shadows get almost no darkening, and refinement keeps the fit without them
(``MAX_SHADOW_LIGHT``). Under a head light (``HEAD_LIGHT``) none is searched for: the
camera sees only what the lamp lights.
"""

from __future__ import annotations

import math

import fast_simplification
import numpy as np
import torch
from torch import Tensor

from render.backend import RasterBackend, get_backend
from render.camera import Cameras, look_at, orthographic
from render.lighting import neighbour_steps
from render.mesh import RenderMesh
from render.search import directions_around, weighted_quantiles

#: a lamp within this many degrees of the camera is taken for a head light: the surfaces the
#: camera sees are those it lights, so no cast shadow shows and none is searched for. (On 21
#: head-lit bench photos the fitted lamp came out 0.6-13 degrees off the camera, median 2,
#: but for one at 127; in 63 photos lit 45 and 55 degrees off it came out 17-52 degrees off,
#: but for three at 70-84.)
HEAD_LIGHT = 10.0
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
#: degrees about the linear fit's lamp that ``shading_lamp`` looks, coarse then fine, and how
#: many directions each time; it fits at most ``FIT_PIXELS`` pixels (evenly strided)
LAMP_FIT_RANGE, LAMP_FIT_FINE = 70.0, 5.0
LAMP_FIT_COARSE_COUNT, LAMP_FIT_FINE_COUNT = 400, 60
FIT_PIXELS = 8000
#: degrees: lamps tried about ``shading_lamp``'s for the shadows that fit the photo best, and
#: how many
LAMP_SEARCH = 6.0
SEARCH_LAMPS = 16
#: the search casts shadows from the mesh simplified to this many faces, on a map this size
SEARCH_FACES = 6000
SEARCH_MAP_SIZE = 256
#: and pushes surfaces out this many of its texels (the simplified surface strays from the
#: full one)
SEARCH_NORMAL_OFFSET = 3.0
#: neighbour steps in the shadow term smaller than this are not shadow edges
MIN_EDGE = 0.05


def shading_lamp(normals: Tensor, shading: Tensor, mask: Tensor, start: Tensor) -> Tensor:
    """The unit direction ``(3,)`` towards the lamp whose clamped cosine ``a + b * max(n .
    lamp, 0)`` (``b > 0``) fits one image's ``shading (H, W)`` (or ``(H, W, 3)``, averaged)
    over ``mask`` best in least squares, among directions within ``LAMP_FIT_RANGE`` degrees
    of ``start`` (``lamp_direction``'s), then finer about the best."""
    if shading.ndim == 3:
        shading = shading.mean(dim=-1)
    n, values = normals[mask].double(), shading[mask].double()
    step = max(1, -(-len(values) // FIT_PIXELS))
    n, values = n[::step], values[::step]
    start = torch.nn.functional.normalize(start.to(n), dim=0)
    candidates = directions_around(start, math.radians(LAMP_FIT_RANGE), LAMP_FIT_COARSE_COUNT)
    best = candidates[int(_clamped_cosine_errors(n, values, candidates).argmin())]
    candidates = directions_around(best, math.radians(LAMP_FIT_FINE), LAMP_FIT_FINE_COUNT)
    best = candidates[int(_clamped_cosine_errors(n, values, candidates).argmin())]
    return best.to(normals.dtype)


def _clamped_cosine_errors(normals: Tensor, values: Tensor, lamps: Tensor) -> Tensor:
    """Mean squared error ``(D,)`` of the least-squares ``a + b * max(n . l, 0)`` fit to
    ``values (N,)`` for each of ``lamps (D, 3)``; infinite where ``b <= 0`` (a lamp the
    shading is darker towards)."""
    cosines = (normals @ lamps.T).clamp_min(0.0)  # (N, D)
    centred = cosines - cosines.mean(dim=0)
    centred_values = values - values.mean()
    slope = (centred * centred_values[:, None]).sum(0) / centred.pow(2).sum(0).clamp_min(1e-12)
    errors = (centred_values[:, None] - slope * centred).pow(2).mean(0)
    return torch.where(slope > 0, errors, torch.full_like(errors, math.inf))


def lamp_visibility(
    mesh: RenderMesh,
    points: Tensor,
    normals: Tensor,
    lamp: Tensor,
    *,
    resolution: int = SHADOW_MAP_SIZE,
    normal_offset: float = NORMAL_OFFSET,
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
        moved = points.to(vertices) + normals.to(vertices) * (normal_offset * texel)
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
    unexplained: Tensor | None = None,
    stride: int = 1,
    views: Tensor | None = None,
    backend: str | RasterBackend = "auto",
) -> Tensor | None:
    """How much of each pixel's lamp light is cast off by another part ``(B, H, W)`` in
    [0, 1], for images with surface ``points`` and unit ``normals (B, H, W, 3)`` over ``mask
    (B, H, W)``, each lit by the lamp ``lamps[b]`` (None: no lamp, no shadows): hidden from the
    lamp times how squarely the surface faces it (``FACING_RAMP``); None when fewer than
    ``MIN_SHADOW_PIXELS`` pixels are mostly shadowed.

    With ``unexplained (B, H, W)``, the log of each image's brightness over its fitted
    shading, each lamp is first searched for about the one given: the one whose shadows'
    edges best explain that image's steps between neighbours ``stride`` pixels apart. With
    ``views (B, H, W, 3)``, the unit directions from the surface to the camera, an image
    whose lamp is within ``HEAD_LIGHT`` of its camera gets none."""
    term = torch.zeros(mask.shape, dtype=points.dtype, device=points.device)
    coarse = None
    for index, lamp in enumerate(lamps):
        where = mask[index]
        if lamp is None or not bool(where.any()):
            continue
        lamp = torch.nn.functional.normalize(lamp.to(points), dim=0)
        if views is not None and _head_light(lamp, views[index][where]):
            continue
        surface = points[index][where], normals[index][where]
        if unexplained is not None:
            coarse = coarse if coarse is not None else _simplified(mesh, SEARCH_FACES)
            lamp = _search_lamp(coarse, *surface, where, unexplained[index], lamp, stride, backend)
        term[index][where] = _pixel_term(
            mesh, *surface, lamp, SHADOW_MAP_SIZE, NORMAL_OFFSET, backend
        )
    if int((term > 0.5).sum()) < MIN_SHADOW_PIXELS:
        return None
    return term


def _head_light(lamp: Tensor, views: Tensor) -> bool:
    """Whether unit ``lamp (3,)`` is within ``HEAD_LIGHT`` of the camera that sees the
    surface in the unit directions ``views (N, 3)``."""
    camera = torch.nn.functional.normalize(views.mean(dim=0), dim=0)
    return float(camera @ lamp) > math.cos(math.radians(HEAD_LIGHT))


def _search_lamp(
    coarse: RenderMesh,
    points: Tensor,
    normals: Tensor,
    mask: Tensor,
    unexplained: Tensor,
    lamp: Tensor,
    stride: int,
    backend: str | RasterBackend,
) -> Tensor:
    """The lamp, of ``SEARCH_LAMPS`` within ``LAMP_SEARCH`` of ``lamp``, whose shadows (cast
    from ``coarse`` onto the surface ``points``, ``normals (N, 3)`` seen at the pixels of
    ``mask (H, W)``) best explain ``unexplained (H, W)`` (``_edge_gains``)."""

    def best(candidates: Tensor) -> Tensor:
        terms = points.new_zeros((len(candidates), *mask.shape))
        for row, candidate in enumerate(candidates):
            terms[row][mask] = _pixel_term(
                coarse, points, normals, candidate, SEARCH_MAP_SIZE, SEARCH_NORMAL_OFFSET, backend
            )
        return candidates[int(_edge_gains(unexplained, terms, mask, stride).argmax())]

    return best(directions_around(lamp, math.radians(LAMP_SEARCH), SEARCH_LAMPS))


def _pixel_term(
    mesh: RenderMesh,
    points: Tensor,
    normals: Tensor,
    lamp: Tensor,
    resolution: int,
    normal_offset: float,
    backend: str | RasterBackend,
) -> Tensor:
    """``shadow_term`` at surface ``points (N, 3)`` with unit ``normals (N, 3)``: ``(N,)``."""
    facing = ((normals @ lamp) / FACING_RAMP).clamp(0.0, 1.0)
    seen = facing > 0
    hidden = torch.zeros_like(facing)
    if bool(seen.any()):
        visible = lamp_visibility(
            mesh,
            points[seen],
            normals[seen],
            lamp,
            resolution=resolution,
            normal_offset=normal_offset,
            backend=backend,
        )
        hidden[seen] = 1.0 - visible
    return hidden * facing


def _edge_gains(unexplained: Tensor, terms: Tensor, mask: Tensor, stride: int) -> Tensor:
    """For each candidate shadow term ``terms (D, H, W)``, how much of the absolute steps of
    ``unexplained (H, W)`` between masked neighbours ``stride`` pixels apart its own steps
    explain, with the best darkening for it (least absolute deviations; 0 unless it darkens):
    ``(D,)``."""
    step_values, edge_values = neighbour_steps(
        mask[None], stride, unexplained[None], terms.permute(1, 2, 0)[None]
    )  # (M,), (M, D)
    # Only steps across some candidate's shadow edge count: sort and sum just those.
    across = (edge_values.abs() > MIN_EDGE).any(dim=1)
    step_values, edge_values = step_values[across], edge_values[across]
    weights = edge_values.abs() * (edge_values.abs() > MIN_EDGE)
    ratios = step_values[:, None] / torch.where(weights > 0, edge_values, torch.ones_like(weights))
    darkening = weighted_quantiles(ratios, weights).clamp_max(0.0)  # (D,)
    residual = (step_values[:, None] - darkening * edge_values).abs()
    return ((step_values.abs()[:, None] - residual) * (weights > 0)).sum(0)


def _simplified(mesh: RenderMesh, faces: int) -> RenderMesh:
    """``mesh``'s surface with about ``faces`` faces (quadric edge collapse), for casting
    shadows cheaply; the mesh itself when it is that small already."""
    if len(mesh.faces) <= faces:
        return mesh
    vertices = mesh.vertices.detach().cpu().double().numpy()
    triangles = mesh.faces.cpu().numpy().astype(np.int64)
    reduction = 1.0 - faces / len(triangles)
    try:
        points, triangles = fast_simplification.simplify(vertices, triangles, reduction)
    except (ValueError, RuntimeError):  # a mesh it cannot collapse: search on the full one
        return mesh
    if len(triangles) == 0:
        return mesh
    return RenderMesh(
        torch.from_numpy(points).to(mesh.vertices),
        torch.from_numpy(triangles).to(mesh.faces),
    )

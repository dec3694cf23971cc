"""Carry a photo's colours round a symmetric object.

A photo shows one side of an object; refinement paints what it shows onto what the camera
saw, and the other sides keep the bake, a model's guess. Where the shape itself is symmetric
under a turn about its upright axis (a bottle, a vase, a lamp under any turn; a four-legged
stool under quarter turns; a table under a half turn), the unseen sides are, most likely,
coloured like the seen ones, as a person looking at the photo would assume. Each unseen
texel is turned by every turn the shape is symmetric under; where a turn lands it on a
surface point the photo saw (near, facing the same way), that point's colour is a
candidate, and the texel takes the median of its candidates where it has at least three,
so a small mark on the seen side (a label, a door) is not copied round unless most
candidates carry it. So in practice only a round shape's colours are carried: under
quarter or half turns few texels land on three seen points.

A shape with no such turn may still be its own mirror image across an upright plane (a
car, a chair, an axe, a mug with its handle: bilateral symmetry, the commonest of made and
living things), and its two halves are, most likely, coloured alike: the photo's side of a
car tells the other side's colours better than any guess. Each unseen texel is reflected
across the plane and takes the colour of the seen point it lands on. One reflection gives
one candidate, so no median keeps a mark off the other side; what the photo can tell, it
is asked: where it shows both halves (a car from the front three-quarters), they must be
coloured alike, or nothing is mirrored (a shape red on its left and blue on its right).
Where it shows one half only, the mirror is trusted, and a label on the photographed side
of a mug is mirrored onto the far side. Shapes with turns are not mirrored (a house's
front door would be mirrored onto its back).

The work is done on a coarse texel grid (``CARRY_GRID``) and upsampled: colours carried
from a 384^2 photo have no finer detail to lose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree
from torch import Tensor

from render.backend import RasterBackend, RenderError, get_backend
from render.bake import fill_uncovered, texel_attributes
from render.camera import Cameras
from render.mesh import RenderMesh

#: Turns tried (degrees about the upright axis); a shape symmetric under every one of them
#: is taken to be round.
TURNS = tuple(float(angle) for angle in range(30, 360, 30))
#: A turn is a symmetry when this share of the surface lands within ``SHAPE_TOLERANCE``
#: (of the bounding box's diagonal) of the surface: meshes from a grid are symmetric only
#: to about a cell, and a small part off the axis (a knob) should not rule a turn out; each
#: texel's own landing is checked again.
SYMMETRIC_SHARE = 0.95
SHAPE_TOLERANCE = 0.012
#: A texel lands on a seen point when it is within this share of the diagonal of one that
#: faces within ``NORMAL_AGREEMENT`` (cosine) of the turned texel's own normal.
LANDING_TOLERANCE = 0.02
NORMAL_AGREEMENT = 0.8
#: A texel counts as seen when the photo's camera sees it facing it at least this much
#: (cosine): at grazing angles the photo's colours are smeared.
SEEN_FACING = 0.3
#: A texel takes a carried colour only where at least this many turns land it on seen points:
#: the median of three keeps a mark on the seen side (a label, a tower's door) from being
#: copied round, where one or two candidates would copy it (a house's front door onto its
#: back under a half turn).
MIN_CANDIDATES = 3
CARRY_GRID = 256
#: the largest side of the depth image that tells which points the cameras see
SEEN_RESOLUTION = 192
SURFACE_SAMPLES = 20_000
#: Mirror planes tried: upright planes through the axis, named by the azimuth of their
#: normal (degrees in [0, 180)), every ``MIRROR_STEP`` degrees; each local best is refined
#: by halving steps down to ``MIRROR_FINEST``, so a mesh may face any way.
MIRROR_STEP = 10.0
MIRROR_FINEST = 0.25
#: a coarse plane whose spread (of the diagonal) is past this is no true plane's neighbour
MIRROR_NEAR = 0.1
#: A shape is not mirrored where the photo shows both halves and they differ: where at
#: least ``MIRROR_PAIRS`` seen texels (of the ``CARRY_GRID`` square) have a seen mirror image
#: and under ``MIRROR_AGREEMENT`` of them agree (their mean absolute colour difference within
#: ``MIRROR_COLOUR``). Mirror-coloured bench paint agreed at 0.97-0.99; a shape red on one
#: side and blue on the other agrees only along its plane.
MIRROR_PAIRS = 100
MIRROR_AGREEMENT = 0.8
MIRROR_COLOUR = 0.1


@dataclass
class CarryResult:
    texture: Tensor  # (H, W, 3) in [0, 1]
    turns: list[float]  # the turns the shape is symmetric under (degrees)
    carried: float  # the share of the texture's covered texels given a carried colour
    mirror: float | None = None  # the mirror plane reflected across (its normal's azimuth)


def upright_turn(angle_degrees: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ``(3, 3)`` rotation by ``angle_degrees`` about +y (the upright axis)."""
    angle = math.radians(angle_degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    return torch.tensor([[cos, 0.0, sin], [0.0, 1.0, 0.0], [-sin, 0.0, cos]], dtype=dtype)


def mirror_across(angle_degrees: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """The ``(3, 3)`` reflection across the upright plane whose normal lies at azimuth
    ``angle_degrees`` (from +x towards +z) in the horizontal plane."""
    angle = math.radians(angle_degrees)
    normal = torch.tensor([math.cos(angle), 0.0, math.sin(angle)], dtype=dtype)
    return torch.eye(3, dtype=dtype) - 2.0 * torch.outer(normal, normal)


def _axis_centre(vertices: Tensor) -> Tensor:
    """A point on the upright axis the turns are about: the bounding box's centre (a
    symmetric shape's box is centred on its axis)."""
    low, high = vertices.amin(0), vertices.amax(0)
    return (low + high) / 2.0


def surface_centroid(vertices: Tensor, faces: Tensor) -> Tensor:
    """The area-weighted mean of the surface: on every plane the surface is mirrored across.
    (A mirror-symmetric shape's bounding box is centred on its plane only when the plane
    is square to an axis.)"""
    corners = vertices.detach()[faces]  # (F, 3, 3)
    areas = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]).norm(
        dim=-1
    )
    return (corners.mean(1) * areas[:, None]).sum(0) / areas.sum().clamp_min(1e-12)


def _diagonal(vertices: Tensor) -> float:
    return float((vertices.amax(0) - vertices.amin(0)).norm())


@dataclass
class _Probe:
    """Points sampled on a surface, for asking how far a transformed copy lands from it."""

    tree: cKDTree  # all samples
    points: Tensor  # (P, 3): the probe, a strided subset of the samples
    axis_centre: Tensor  # the upright axis turns are about (``_axis_centre`` of the samples)
    centroid: Tensor  # the point mirror planes pass through (``surface_centroid``)
    diagonal: float

    @classmethod
    def of(cls, vertices: Tensor, faces: Tensor) -> _Probe | None:
        """None for a surface with no area."""
        if len(faces) == 0:
            return None
        surface = trimesh.Trimesh(
            vertices.detach().cpu().numpy(), faces.cpu().numpy(), process=False
        )
        if not surface.area > 0.0:
            return None
        samples, _ = trimesh.sample.sample_surface(surface, SURFACE_SAMPLES, seed=0)
        points = torch.from_numpy(np.asarray(samples, dtype=np.float32))
        return cls(
            cKDTree(points.numpy()),
            points[:: max(1, len(points) // 4000)],
            _axis_centre(points),
            surface_centroid(vertices, faces).cpu(),
            _diagonal(points),
        )

    def spread(self, transform: Tensor, centre: Tensor, share: float, stride: int = 1) -> float:
        """The ``share`` quantile of how far the probe (every ``stride``-th point of it),
        transformed by ``(3, 3)`` about ``centre``, lands from the surface (as a share of
        the diagonal; capped at 0.25)."""
        moved = (self.points[::stride] - centre) @ transform.T + centre
        cap = 0.25 * self.diagonal  # far misses need no exact distance
        distances, _ = self.tree.query(moved.numpy(), k=1, distance_upper_bound=cap)
        return float(np.quantile(np.minimum(distances, cap), share)) / self.diagonal

    def turns(self, turns: Sequence[float], tolerance: float, share: float) -> list[float]:
        """``symmetric_turns`` of the sampled surface."""
        return [
            float(angle)
            for angle in turns
            if self.spread(upright_turn(angle), self.axis_centre, share) <= tolerance
        ]

    def mirror_planes(self, tolerance: float, share: float) -> list[float]:
        """``mirror_planes`` of the sampled surface."""

        def spread(angle: float, stride: int = 1) -> float:
            return self.spread(mirror_across(angle), self.centroid, share, stride)

        # A quarter of the probe ranks the coarse planes; a plane up to half a step off a
        # true one moves a point at most 2 sin(5 deg) * half the diagonal away, about 0.09
        # of it, so a coarse spread past MIRROR_NEAR is no plane's neighbour.
        coarse = [MIRROR_STEP * index for index in range(round(180.0 / MIRROR_STEP))]
        values = [spread(angle, stride=4) for angle in coarse]
        found: dict[float, float] = {}
        for index, angle in enumerate(coarse):
            # Each local best (the planes wrap round at 180 degrees) is refined by halving.
            if values[index] > min(values[index - 1], values[(index + 1) % len(values)]):
                continue
            if values[index] > MIRROR_NEAR:
                continue
            best, step = angle, MIRROR_STEP / 2.0
            value = spread(best)
            while step >= MIRROR_FINEST:
                for tried in (best - step, best + step):
                    tried_value = spread(tried)
                    if tried_value < value:
                        best, value = tried, tried_value
                step /= 2.0
            if value <= tolerance:
                found[round(best % 180.0, 2)] = value
        return sorted(found, key=found.__getitem__)


def symmetric_turns(
    vertices: Tensor,
    faces: Tensor,
    turns: Sequence[float] = TURNS,
    *,
    tolerance: float = SHAPE_TOLERANCE,
    share: float = SYMMETRIC_SHARE,
) -> list[float]:
    """The turns (degrees, of ``turns``) about the upright axis through the bounding box's
    centre that map the surface of ``vertices``/``faces`` onto itself: ``share`` of its
    points land within ``tolerance`` of the diagonal of it."""
    probe = _Probe.of(vertices, faces)
    return [] if probe is None else probe.turns(turns, tolerance, share)


def mirror_planes(
    vertices: Tensor,
    faces: Tensor,
    *,
    tolerance: float = SHAPE_TOLERANCE,
    share: float = SYMMETRIC_SHARE,
) -> list[float]:
    """The upright planes through the surface's centroid across which the surface of
    ``vertices``/``faces`` is its own mirror image (``share`` of its points land within
    ``tolerance`` of the diagonal of it), as the azimuths of their normals in degrees in
    [0, 180), the closest fit first."""
    probe = _Probe.of(vertices, faces)
    return [] if probe is None else probe.mirror_planes(tolerance, share)


def shape_symmetry(vertices: Tensor, faces: Tensor) -> tuple[list[float], list[float]]:
    """What ``carry_round`` needs, from one sample of the surface: its ``symmetric_turns``,
    and for a shape with none its ``mirror_planes`` (a shape with turns is not mirrored)."""
    probe = _Probe.of(vertices, faces)
    if probe is None:
        return [], []
    turns = probe.turns(TURNS, SHAPE_TOLERANCE, SYMMETRIC_SHARE)
    return turns, [] if turns else probe.mirror_planes(SHAPE_TOLERANCE, SYMMETRIC_SHARE)


def _texels(mesh: RenderMesh, size: int, backend: RasterBackend) -> tuple[Tensor, Tensor, Tensor]:
    """Surface points and unit normals ``(size, size, 3)`` under each texel of a
    ``size``-square texture, and the covered mask; row 0 at the top."""
    attributes = torch.cat([mesh.vertices, mesh.vertex_normals()], dim=-1)
    values, covered = texel_attributes(
        attributes, mesh.faces, mesh.uv.to(mesh.vertices), size, backend
    )
    return values[..., :3], torch.nn.functional.normalize(values[..., 3:], dim=-1), covered


def _seen(
    mesh: RenderMesh,
    points: Tensor,
    normals: Tensor,
    cameras: Cameras,
    masks: Tensor,
    backend: RasterBackend,
    tolerance: float,
) -> Tensor:
    """Which of ``points (N, 3)`` (with ``normals``) some camera sees, inside its mask
    ``(B, H, W)`` (row 0 at the top), facing it by at least ``SEEN_FACING``."""
    # Whether a point is in view needs no more than a coarse depth image.
    shrink = max(1, -(-max(cameras.resolution) // SEEN_RESOLUTION))
    rows_kept = torch.arange(0, masks.shape[1], shrink, device=masks.device)
    columns_kept = torch.arange(0, masks.shape[2], shrink, device=masks.device)
    masks = masks[:, rows_kept][:, :, columns_kept]
    height, width = masks.shape[1], masks.shape[2]
    cameras = Cameras(cameras.view, cameras.projection, (height, width))
    rast = backend.rasterize(cameras.to_clip(mesh.vertices), mesh.faces, (height, width))
    surface = backend.interpolate(mesh.vertices, rast, mesh.faces)  # (B, H, W, 3), bottom-up
    clip = cameras.to_clip(points)  # (B, N, 4)
    ndc = clip[..., :2] / clip[..., 3:].clamp_min(1e-8)
    columns = ((ndc[..., 0] + 1.0) / 2.0 * width).long().clamp(0, width - 1)
    rows = ((ndc[..., 1] + 1.0) / 2.0 * height).long().clamp(0, height - 1)  # bottom-up
    seen = torch.zeros(len(points), dtype=torch.bool, device=points.device)
    for index in range(len(cameras)):
        hit = surface[index, rows[index], columns[index]]
        covered = rast[index, rows[index], columns[index], 3] > 0
        inside = masks[index].flip(0)[rows[index], columns[index]].bool()
        towards = torch.nn.functional.normalize(cameras.eyes[index].to(points) - points, dim=-1)
        facing = (normals * towards).sum(-1) >= SEEN_FACING
        near = (hit - points).norm(dim=-1) <= tolerance
        seen |= covered & inside & facing & near
    return seen


def carry_round(
    mesh: RenderMesh,
    cameras: Cameras,
    masks: Tensor,
    turns: Sequence[float],
    mirrors: Sequence[float] = (),
    *,
    grid: int = CARRY_GRID,
    backend: str | RasterBackend = "auto",
) -> CarryResult:
    """``mesh.texture`` with each texel the cameras do not see given the median colour of the
    seen points the symmetric ``turns`` (``symmetric_turns``) land it on; texels no turn
    lands on a seen point keep their colour. A shape with no turns but ``mirrors``
    (``mirror_planes``) is reflected across the first (the closest fit) instead, each unseen
    texel taking the colour of the seen point it lands on. ``masks (B, H, W)``: the photo's
    object pixels (what the cameras' images show of the object)."""
    texture = mesh.texture
    if texture is None or mesh.uv is None:
        raise RenderError("carrying colour round needs a textured mesh")
    if turns:
        transforms, needed, mirror = [upright_turn(a) for a in turns], MIN_CANDIDATES, None
        centre = _axis_centre(mesh.vertices)
    elif mirrors:
        mirror = float(mirrors[0])
        transforms, needed = [mirror_across(mirror)], 1
        centre = surface_centroid(mesh.vertices, mesh.faces)
    else:
        return CarryResult(texture, [], 0.0)
    unchanged = CarryResult(texture, list(turns), 0.0)  # nothing carried, nothing mirrored
    raster = get_backend(backend, mesh.device) if isinstance(backend, str) else backend
    with torch.no_grad():
        points, normals, covered = _texels(mesh, grid, raster)
        # The texture as the coarse grid sees it: each grid texel the mean of the texels it
        # spans, so that a carried colour is not one texel's noise.
        coarse = torch.nn.functional.adaptive_avg_pool2d(
            texture.permute(2, 0, 1)[None], (grid, grid)
        )[0].permute(1, 2, 0)
        diagonal = _diagonal(mesh.vertices)
        flat_points, flat_normals = points[covered], normals[covered]
        seen = _seen(
            mesh,
            flat_points,
            flat_normals,
            cameras.to(mesh.device),
            masks.to(mesh.device),
            raster,
            LANDING_TOLERANCE * diagonal,
        )
        if not bool(seen.any()) or bool(seen.all()):
            return unchanged  # nothing to carry from, or nothing to carry to
        shown = _Seen(flat_points[seen], flat_normals[seen], coarse[covered][seen])
        centre, tolerance = centre.to(flat_points), LANDING_TOLERANCE * diagonal
        if mirror is not None:
            pairs, agreeing = _mirror_agreement(shown, transforms[0], centre, tolerance)
            if pairs >= MIRROR_PAIRS and agreeing < MIRROR_AGREEMENT:
                # Where the photo shows both halves, they differ: so would the unseen ones.
                return unchanged
        carried = torch.full_like(flat_points, float("nan"))
        carried[~seen] = _carried_colours(
            shown, flat_points[~seen], flat_normals[~seen], transforms, centre, tolerance, needed
        )
        given = ~seen & ~torch.isnan(carried[:, 0])
        share = float(given.sum()) / max(1, int(covered.sum()))
        if not bool(given.any()):
            return unchanged
        # Coarse maps of the new colour and of where it applies, spread across chart borders
        # so that upsampling pulls in no background, then brought to the texture's size.
        new_colour, where = coarse.clone(), torch.zeros(grid, grid, device=texture.device)
        index = torch.nonzero(covered)[given]
        new_colour[index[:, 0], index[:, 1]] = carried[given]
        where[index[:, 0], index[:, 1]] = 1.0
        new_colour = fill_uncovered(new_colour, covered)
        where = fill_uncovered(where[..., None], covered)[..., 0]
        size = (texture.shape[0], texture.shape[1])
        up_colour = _resized(new_colour, size)
        up_where = _resized(where[..., None], size)
        result = texture * (1.0 - up_where) + up_colour * up_where
    return CarryResult(result.clamp(0.0, 1.0), list(turns), share, mirror)


@dataclass
class _Seen:
    """The texels the cameras see: their points, normals and colours ``(S, 3)``, and a
    tree of the points for finding where others land."""

    points: Tensor
    normals: Tensor
    colours: Tensor
    tree: cKDTree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = cKDTree(self.points.cpu().numpy())

    def landings(
        self, points: Tensor, normals: Tensor, transform: Tensor, centre: Tensor, tolerance: float
    ) -> tuple[Tensor, Tensor]:
        """Where ``points (N, 3)`` (with ``normals``), transformed by ``(3, 3)`` about
        ``centre``, land within ``tolerance`` of a seen point facing the same way: ``(N,)``
        whether each does, and the seen point's index (0 where none)."""
        transform = transform.to(points)
        moved = (points - centre) @ transform.T + centre
        distances, nearest = self.tree.query(
            moved.cpu().numpy(), k=1, distance_upper_bound=tolerance, workers=-1
        )
        lands = distances <= tolerance  # a miss has an infinite distance and no neighbour
        nearest = torch.from_numpy(np.where(lands, nearest, 0)).to(points.device)
        facing = (self.normals[nearest] * (normals @ transform.T)).sum(-1) >= NORMAL_AGREEMENT
        return torch.from_numpy(lands).to(points.device) & facing, nearest


def _carried_colours(
    seen: _Seen,
    points: Tensor,
    normals: Tensor,
    transforms: Sequence[Tensor],
    centre: Tensor,
    tolerance: float,
    needed: int,
) -> Tensor:
    """``(N, 3)``: for each of the unseen ``points`` (with ``normals``), the median colour of
    the seen points its symmetries (``(3, 3)`` ``transforms`` about ``centre``) land it on
    (NaN where fewer than ``needed`` do)."""
    candidates = []
    for transform in transforms:
        lands, nearest = seen.landings(points, normals, transform, centre, tolerance)
        candidates.append(torch.where(lands[:, None], seen.colours[nearest], float("nan")))
    stacked = torch.stack(candidates)  # (transforms, unseen, 3)
    enough = (~torch.isnan(stacked[..., 0])).sum(0) >= needed
    median = torch.nanmedian(stacked, dim=0).values
    return torch.where(enough[:, None], median, float("nan"))


def _mirror_agreement(
    seen: _Seen, mirror: Tensor, centre: Tensor, tolerance: float
) -> tuple[int, float]:
    """How far the seen colours are mirror images already: of the seen points whose mirror
    image (``(3, 3)`` ``mirror`` about ``centre``) lands on another seen point (more than
    ``tolerance`` from the plane), how many, and the share of them whose colours agree
    (within ``MIRROR_COLOUR`` in mean absolute difference)."""
    lands, nearest = seen.landings(seen.points, seen.normals, mirror, centre, tolerance)
    moved = (seen.points - centre) @ mirror.to(seen.points).T + centre
    lands &= (moved - seen.points).norm(dim=-1) > 2.0 * tolerance  # not the point itself
    if not bool(lands.any()):
        return 0, 0.0
    difference = (seen.colours[lands] - seen.colours[nearest[lands]]).abs().mean(-1)
    return int(lands.sum()), float((difference <= MIRROR_COLOUR).float().mean())


def _resized(image: Tensor, size: tuple[int, int]) -> Tensor:
    """An ``(h, w, C)`` image bilinearly resized to ``size``."""
    resized = torch.nn.functional.interpolate(
        image.permute(2, 0, 1)[None], size=size, mode="bilinear", align_corners=False
    )
    return resized[0].permute(1, 2, 0)

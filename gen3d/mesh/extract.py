"""Field -> triangle mesh: dense or hierarchical SDF queries, then marching cubes.

``resolution`` counts grid cells per axis over the cube ``[-bound, bound]^3``: the grid has
``resolution + 1`` points per axis, so every level of the hierarchy nests inside the next.

Hierarchical extraction (as FlashVDM and TripoSG decode their VAEs) queries a coarse grid,
then at each finer level queries only the points of cells near the zero level set; all other
points take values interpolated from the coarser level, which have the right sign there.
Marching cubes then runs on the full grid and gives the same mesh as dense extraction,
because every cell that the surface crosses was queried exactly.

The guard against thin parts: a coarse cell counts as near when any corner is within
``band`` cell diagonals of the surface (an exact SDF is 1-Lipschitz, so a part anywhere in
the cell brings its corners within one diagonal, even when no corner changes sign), and the
near cells grow by one cell in every direction before refining. Neural fields whose values
overestimate distances need a larger ``band``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import mcubes
import numpy as np
import trimesh
from scipy import ndimage

from .field import FieldAdapter, FieldError

MIN_RESOLUTION = 8
MAX_RESOLUTION = 512  # a 513^3 float32 grid is 0.5 GB; 1024^3 would need ~13 GB in all
DEFAULT_CHUNK = 262_144


@dataclass
class Extraction:
    """A mesh from a field, and what it cost."""

    mesh: trimesh.Trimesh
    resolution: int
    queries: int  # field evaluations
    seconds: float
    method: str


def _check_resolution(resolution: int, name: str = "resolution") -> None:
    if not isinstance(resolution, int | np.integer) or not (
        MIN_RESOLUTION <= resolution <= MAX_RESOLUTION
    ):
        raise FieldError(
            f"{name} must be an integer from {MIN_RESOLUTION} to {MAX_RESOLUTION} cells per "
            f"axis, not {resolution!r}"
        )


def _axis(resolution: int, bound: float) -> np.ndarray:
    return np.linspace(-bound, bound, resolution + 1)


def _evaluate(field: FieldAdapter, points: np.ndarray, chunk: int) -> np.ndarray:
    out = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), chunk):
        out[start : start + chunk] = field.sdf(points[start : start + chunk])
    return out


def _grid_points(axis: np.ndarray, index: tuple[np.ndarray, ...]) -> np.ndarray:
    return np.stack([axis[i] for i in index], axis=-1)


def _marching_cubes(values: np.ndarray, bound: float, level: float) -> trimesh.Trimesh:
    if not (values.min() < level < values.max()):
        inside = "inside" if values.max() <= level else "outside"
        raise FieldError(
            f"the field has no surface in [-{bound}, {bound}]^3: every value is {inside} "
            f"(min {values.min():.4g}, max {values.max():.4g}, level {level:g})"
        )
    vertices, faces = mcubes.marching_cubes(values, level)
    step = 2.0 * bound / (values.shape[0] - 1)
    mesh = trimesh.Trimesh(vertices * step - bound, faces, process=False)
    # PyMCubes winds triangles for a field that is positive inside; ours is negative inside.
    mesh.invert()
    return mesh


def extract_dense(
    field: Any,
    resolution: int = 256,
    *,
    bound: float = 1.0,
    level: float = 0.0,
    chunk: int = DEFAULT_CHUNK,
) -> Extraction:
    """Query every point of the grid (the reference hierarchical extraction must match)."""
    _check_resolution(resolution)
    started = time.perf_counter()
    adapter = FieldAdapter(field)
    axis = _axis(resolution, bound)
    n = resolution + 1
    values = np.empty((n, n, n), dtype=np.float32)
    # One x-slab at a time: the points of a 512^3 grid would be 3.2 GB at once.
    slab = max(1, chunk // (n * n))
    yz = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    for start in range(0, n, slab):
        xs = axis[start : start + slab]
        points = np.concatenate([np.column_stack([np.full(len(yz), x), yz]) for x in xs])
        values[start : start + len(xs)] = _evaluate(adapter, points, chunk).reshape(-1, n, n)
    mesh = _marching_cubes(values, bound, level)
    return Extraction(mesh, resolution, adapter.queries, time.perf_counter() - started, "dense")


def _upsample(values: np.ndarray) -> np.ndarray:
    """Trilinear values on the grid with twice the cells (nested: even points are copies)."""
    for axis in range(3):
        n = values.shape[axis]
        shape = list(values.shape)
        shape[axis] = 2 * n - 1
        fine = np.empty(shape, dtype=values.dtype)
        even = [slice(None)] * 3
        odd = [slice(None)] * 3
        even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        fine[tuple(even)] = values
        fine[tuple(odd)] = 0.5 * (values[tuple(lo)] + values[tuple(hi)])
        values = fine
    return values


def _cells_to_fine_points(near: np.ndarray) -> np.ndarray:
    """Fine-grid points (2n+1 per axis) that belong to any marked coarse cell (n per axis)."""
    points = near
    for axis in range(3):
        expanded = np.repeat(points, 2, axis=axis)  # fine index a -> coarse cell a // 2
        pad = [(0, 0)] * 3
        pad[axis] = (0, 1)
        first = np.pad(expanded, pad)  # point a belongs to cell a // 2 ...
        pad[axis] = (1, 0)
        second = np.pad(expanded, pad)  # ... and to cell (a - 1) // 2
        points = first | second
    return points


def extract_hierarchical(
    field: Any,
    resolution: int = 256,
    *,
    min_base: int = 24,
    band: float = 1.0,
    bound: float = 1.0,
    level: float = 0.0,
    chunk: int = DEFAULT_CHUNK,
) -> Extraction:
    """Coarse-to-fine extraction; the same mesh as ``extract_dense`` at far fewer queries.

    The coarsest grid is ``resolution`` halved as often as it stays even and at least
    ``min_base`` cells (256 -> 128 -> 64 -> 32); an odd resolution has no coarser level and
    is extracted densely. ``band`` widens the refined region, in cell diagonals (see the
    module doc).
    """
    _check_resolution(resolution)
    if band <= 0:
        raise FieldError(f"band must be positive, not {band}")
    levels, base = 0, resolution
    while base % 2 == 0 and base // 2 >= min_base:
        base //= 2
        levels += 1
    started = time.perf_counter()
    adapter = FieldAdapter(field)

    current = base
    axis = _axis(current, bound)
    n = current + 1
    index = np.indices((n, n, n)).reshape(3, -1)
    values = _evaluate(adapter, _grid_points(axis, tuple(index)), chunk).reshape(n, n, n)
    exact = np.ones_like(values, dtype=bool)
    for _ in range(levels):
        cell = 2.0 * bound / current
        # A cell is near when a corner lies within `band` diagonals of the level set.
        corner = np.abs(values - level)
        nearest_corner = np.minimum.reduce(
            [
                corner[i : i + current, j : j + current, k : k + current]
                for i in (0, 1)
                for j in (0, 1)
                for k in (0, 1)
            ]
        )
        near = nearest_corner <= band * cell * np.sqrt(3.0)
        near = ndimage.binary_dilation(near, iterations=1)  # the safety margin of one cell
        current *= 2
        values = _upsample(values)
        previously_exact = np.zeros(values.shape, dtype=bool)
        previously_exact[::2, ::2, ::2] = exact
        needed = _cells_to_fine_points(near)
        todo = np.nonzero(needed & ~previously_exact)
        axis = _axis(current, bound)
        if len(todo[0]):
            values[todo] = _evaluate(adapter, _grid_points(axis, todo), chunk)
        exact = previously_exact | needed
    mesh = _marching_cubes(values, bound, level)
    return Extraction(mesh, current, adapter.queries, time.perf_counter() - started, "hierarchical")


def vertex_colours(field: Any, mesh: trimesh.Trimesh, chunk: int = DEFAULT_CHUNK) -> bool:
    """Colour ``mesh``'s vertices from the field's colour; False if the field has none."""
    adapter = FieldAdapter(field)
    vertices = np.asarray(mesh.vertices)
    parts = []
    for start in range(0, len(vertices), chunk):
        rgb = adapter.colour(vertices[start : start + chunk])
        if rgb is None:
            return False
        parts.append(rgb)
    rgb = np.concatenate(parts) if parts else np.zeros((0, 3))
    alpha = np.full((len(rgb), 1), 255, dtype=np.uint8)
    mesh.visual.vertex_colors = np.hstack([np.round(rgb * 255).astype(np.uint8), alpha])
    return True

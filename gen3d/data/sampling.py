"""SDF samples of a shape, procedural or mesh: what the shape VAEs train on.

For each shape: surface points uniform by area with outward normals and colours; near-surface
points (surface points jittered at several noise scales) and uniform volume points, each with
its signed distance (negative inside), optionally truncated.

Procedural shapes have exact distances. Their surface is found by hierarchical marching cubes
(``gen3d.mesh.extract_hierarchical``) and every sample is then projected onto the exact zero
level set with a few Newton steps, so surface points lie on the analytic surface, not on the
grid's approximation of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from gen3d.mesh.extract import extract_hierarchical

from .inside import winding_numbers
from .meshes import MeshAsset
from .procedural import ProceduralShape

Source = ProceduralShape | MeshAsset


@dataclass(frozen=True)
class SamplingConfig:
    """How many samples of each kind to draw, and how."""

    n_surface: int = 8192
    n_near: int = 8192  # split evenly over near_scales
    n_volume: int = 4096
    #: standard deviations (unit-cube units) of the jitter that makes near-surface samples
    near_scales: tuple[float, ...] = (0.005, 0.02, 0.05)
    #: clamp signed distances to [-truncation, truncation]; None keeps them exact
    truncation: float | None = None
    #: cells per axis of the marching-cubes grid that locates a procedural surface before
    #: projection (hierarchical extraction, gen3d.mesh)
    grid_resolution: int = 128

    def __post_init__(self) -> None:
        for name in ("n_surface", "n_near", "n_volume"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.near_scales or min(self.near_scales) <= 0:
            raise ValueError(f"near_scales must be positive, not {self.near_scales}")
        if self.truncation is not None and self.truncation <= 0:
            raise ValueError(f"truncation must be positive or None, not {self.truncation}")
        if not 16 <= self.grid_resolution <= 512:
            raise ValueError(f"grid_resolution must be in [16, 512], not {self.grid_resolution}")


@dataclass
class SdfSamples:
    """Samples of one shape; float32 arrays. ``surface_colours`` is None for colourless meshes."""

    surface_points: np.ndarray  # (S, 3)
    surface_normals: np.ndarray  # (S, 3) unit, outward
    surface_colours: np.ndarray | None  # (S, 3) RGB in [0, 1]
    near_points: np.ndarray  # (N, 3)
    near_sdf: np.ndarray  # (N,)
    volume_points: np.ndarray  # (V, 3)
    volume_sdf: np.ndarray  # (V,)

    def arrays(self) -> dict[str, np.ndarray]:
        """The samples as a flat name -> array dict (for shards); colours only when present."""
        return {k: v for k, v in vars(self).items() if v is not None}


def _chunked_sdf(source: Source, points: np.ndarray, chunk: int = 262_144) -> np.ndarray:
    return np.concatenate([source.sdf(points[i : i + chunk]) for i in range(0, len(points), chunk)])


def _gradient(shape: ProceduralShape, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sdf, d sdf / d x)`` of a procedural shape by autograd on its torch field."""
    x = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    d = shape.sdf(x)
    (grad,) = torch.autograd.grad(d.sum(), x)
    return d.detach().numpy(), grad.numpy()


def _procedural_surface(
    shape: ProceduralShape, n: int, rng: np.random.Generator, resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    # Hierarchical extraction queries the SDF only near the surface (and guards thin parts).
    mesh = extract_hierarchical(shape, resolution).mesh
    kept_points, kept_normals, have = [], [], 0
    for _ in range(8):
        points = _project(shape, trimesh.sample.sample_surface(mesh, n, seed=rng)[0])
        normals, slope = _normals(shape, points)
        # Where two parts touch face to face, min() leaves a zero set inside the solid; a
        # point drawn there has no outward direction (slope ~ 0). Drop it and draw again.
        good = slope > 0.5
        kept_points.append(points[good])
        kept_normals.append(normals[good])
        have += int(good.sum())
        if have >= n:
            break
    else:
        raise ValueError(f"{shape.category}/{shape.seed}: could not sample its surface")
    return np.concatenate(kept_points)[:n], np.concatenate(kept_normals)[:n]


def _project(shape: ProceduralShape, start: np.ndarray) -> np.ndarray:
    """Newton steps from points near the surface onto the exact zero level set."""
    points = start
    for _ in range(4):
        d, grad = _gradient(shape, points)
        # |grad| is 1 almost everywhere; the floor keeps creases (|grad| -> 0) from flinging
        # a point away.
        points = points - (d / np.maximum((grad * grad).sum(axis=1), 0.25))[:, None] * grad
    d, _ = _gradient(shape, points)
    stuck = ~(np.abs(d) < 1e-4)
    points[stuck] = start[stuck]  # keep the grid surface's point where projection failed
    return points


def _normals(
    shape: ProceduralShape, points: np.ndarray, eps: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Unit SDF gradients by central differences, and the gradient's length. Differences are
    defined on creases and flat caps, where the analytic gradient can vanish at the surface."""
    grad = np.stack([shape.sdf(points + o) - shape.sdf(points - o) for o in np.eye(3) * eps], -1)
    slope = np.linalg.norm(grad, axis=1) / (2 * eps)
    return grad / np.maximum(slope * 2 * eps, 1e-12)[:, None], slope


def _mesh_surface(
    asset: MeshAsset, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mesh = trimesh.Trimesh(asset.vertices, asset.faces, process=False)
    points, face = trimesh.sample.sample_surface(mesh, n, seed=rng)
    normals = mesh.face_normals[face]
    # Orient each normal towards the lower winding number: outwards even where the surface's
    # own orientation is unreliable (open, inverted patches).
    eps = 1e-3
    ahead = winding_numbers(asset.surface, points + eps * normals)
    behind = winding_numbers(asset.surface, points - eps * normals)
    normals = np.where((ahead > behind)[:, None], -normals, normals)
    return points, normals, face


def surface_samples(
    source: Source, count: int, seed: int = 0, grid_resolution: int = 128
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``count`` points spread evenly over the surface of ``source``, with outward unit
    normals and RGB colours (None for a colourless mesh): what a shape VAE encodes."""
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    rng = np.random.default_rng(seed)
    return _surface(source, count, rng, grid_resolution)


def _surface(
    source: Source, count: int, rng: np.random.Generator, grid_resolution: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if isinstance(source, ProceduralShape):
        points, normals = _procedural_surface(source, count, rng, grid_resolution)
        return points, normals, np.asarray(source.colour(points))
    points, normals, face = _mesh_surface(source, count, rng)
    colours = (
        None if source.colours is None else source.colours.at(source.surface.origin[face], points)
    )
    return points, normals, colours


def sample_sdf(source: Source, config: SamplingConfig | None = None, seed: int = 0) -> SdfSamples:
    """Draw surface, near-surface and volume samples of ``source`` (see the module doc)."""
    config = config or SamplingConfig()
    rng = np.random.default_rng(seed)
    surface, normals, colours = _surface(source, config.n_surface, rng, config.grid_resolution)

    per_scale = np.array_split(np.arange(config.n_near), len(config.near_scales))
    near = np.empty((config.n_near, 3))
    for indices, scale in zip(per_scale, config.near_scales, strict=True):
        anchors = surface[rng.integers(0, len(surface), len(indices))]
        near[indices] = anchors + rng.normal(scale=scale, size=anchors.shape)
    near = np.clip(near, -1.0, 1.0)
    volume = rng.uniform(-1.0, 1.0, size=(config.n_volume, 3))
    near_sdf, volume_sdf = _chunked_sdf(source, near), _chunked_sdf(source, volume)
    if config.truncation is not None:
        near_sdf = np.clip(near_sdf, -config.truncation, config.truncation)
        volume_sdf = np.clip(volume_sdf, -config.truncation, config.truncation)

    def f32(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    return SdfSamples(
        surface_points=f32(surface),
        surface_normals=f32(normals),
        surface_colours=None if colours is None else f32(colours),
        near_points=f32(near),
        near_sdf=f32(near_sdf),
        volume_points=f32(volume),
        volume_sdf=f32(volume_sdf),
    )

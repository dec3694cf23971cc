"""The PyTorch rasterizer against hand-computed cases and a ray-cast reference (embree)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from render import raster_torch
from render.backend import RenderError, TorchBackend, get_backend, nvdiffrast_available
from render.camera import Cameras
from render.mesh import RenderMesh
from render.renderer import render_mesh

# The real test meshes (a copy of ../shared/testdata/meshes kept with the tests).
REAL_MESHES = sorted((Path(__file__).resolve().parents[1] / "fixtures/meshes/real").glob("*"))
REAL_MESHES = [
    path for path in REAL_MESHES if path.suffix.lower() in (".glb", ".obj", ".ply", ".stl")
]


def _normalised(path: Path) -> trimesh.Trimesh:
    mesh = trimesh.load(path, force="mesh", process=False)
    mesh.vertices = mesh.vertices - mesh.bounds.mean(axis=0)
    mesh.vertices = mesh.vertices / np.abs(mesh.vertices).max()
    return mesh


def _one_triangle() -> tuple[torch.Tensor, torch.Tensor]:
    # Clip coordinates with w = 1: NDC equals clip. The right angle sits at the bottom left.
    pos = torch.tensor([[[-1.0, -1.0, 0.0, 1.0], [1.0, -1.0, 0.0, 1.0], [-1.0, 1.0, 0.5, 1.0]]])
    return pos, torch.tensor([[0, 1, 2]])


def test_rasterize_matches_hand_computed_barycentrics() -> None:
    pos, tri = _one_triangle()
    rast = raster_torch.rasterize(pos, tri, (4, 4))
    # Row 0 is NDC y = -1 (the bottom, nvdiffrast's convention); pixel (0, 0) has its centre
    # at NDC (-0.75, -0.75), 1/8 of the way along each leg: weights (0.75, 0.125, 0.125).
    u, v, depth, face = rast[0, 0, 0]
    assert face == 1.0
    assert u == pytest.approx(0.75) and v == pytest.approx(0.125)
    assert depth == pytest.approx(0.125 * 0.5)
    # Pixels above the hypotenuse are empty and all zero.
    assert torch.equal(rast[0, 3, 3], torch.zeros(4))
    assert int((rast[0, ..., 3] > 0).sum()) == 10  # 4 + 3 + 2 + 1 centres inside or on the edge


def test_nearest_triangle_wins_and_depth_range_clips() -> None:
    pos, _ = _one_triangle()
    front = pos.clone()
    front[..., 2] = -0.5
    behind = pos.clone()
    behind[..., 2] = 1.5  # past the far plane: never drawn
    both = torch.cat([pos, front, behind], dim=1)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    rast = raster_torch.rasterize(both, faces, (8, 8))
    drawn = rast[0, ..., 3][rast[0, ..., 3] > 0]
    assert set(drawn.tolist()) == {2.0}


def test_wide_triangles_drawn_by_row_spans_match_their_boxes(monkeypatch) -> None:
    """Row spans skip the pixels a box holds outside its triangle; they must never skip one
    inside, even for slivers, near-degenerate triangles and ones reaching off screen."""
    generator = torch.Generator().manual_seed(0)
    count = 1500
    corners = torch.rand(count, 1, 3, generator=generator) * 2 - 1
    corners = corners + torch.randn(count, 3, 3, generator=generator) * 0.4
    slivers = torch.arange(0, count, 5)  # a third corner barely off the first edge
    edge = corners[slivers, 1] - corners[slivers, 0]
    corners[slivers, 2] = corners[slivers, 0] + 1e-4 * edge + 1e-7
    corners[::11] *= 4.0  # far beyond the frame
    points = corners.reshape(-1, 3)
    pos = torch.cat([points[:, :2], points[:, 2:] * 0.5, torch.ones(len(points), 1)], 1)[None]
    tri = torch.arange(3 * count).view(count, 3)

    def drawn(min_width: int, share: float) -> torch.Tensor:
        monkeypatch.setattr(raster_torch, "SPAN_MIN_WIDTH", min_width)
        monkeypatch.setattr(raster_torch, "SPAN_SHARE", share)
        return raster_torch._nearest_triangles(pos, tri, (97, 131))

    boxes = drawn(10**9, 0.0)
    assert (boxes != raster_torch._EMPTY).float().mean() > 0.9  # most pixels covered
    assert torch.equal(drawn(1, 0.0), boxes)  # every triangle by spans
    assert torch.equal(drawn(8, 0.0), boxes)  # both ways at once


def test_perspective_correct_interpolation() -> None:
    # A quad receding in depth: the interpolated world position of each pixel must lie on the
    # camera ray through that pixel (screen-linear interpolation would not).
    quad = torch.tensor([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, -3.0], [-1.0, 1.0, -3.0]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    cameras = Cameras.orbit([0.0], 0.0, radius=3.0, resolution=32)
    rast = raster_torch.rasterize(cameras.to_clip(quad), faces, cameras.resolution)
    points = raster_torch.interpolate(quad, rast, faces).flip(1)[0]
    covered = rast.flip(1)[0, ..., 3] > 0
    origins, directions = cameras.pixel_rays()
    offsets = points - origins[0]
    along = (offsets * directions[0]).sum(-1, keepdim=True)
    off_ray = (offsets - along * directions[0]).norm(dim=-1)
    assert covered.sum() > 200
    assert off_ray[covered].max() < 1e-4


@pytest.mark.parametrize("path", REAL_MESHES, ids=lambda p: p.name)
def test_coverage_and_depth_agree_with_ray_casting(path: Path) -> None:
    mesh = _normalised(path)
    cameras = Cameras.orbit([20.0, 135.0, 250.0], [15.0, -30.0, 60.0], resolution=96)
    out = render_mesh(RenderMesh.from_trimesh(mesh), cameras, shading="albedo", antialias=False)
    origins, directions = cameras.pixel_rays()
    locations, rays, _ = mesh.ray.intersects_location(
        origins.reshape(-1, 3).numpy(), directions.reshape(-1, 3).numpy(), multiple_hits=False
    )
    reference = np.zeros(origins.shape[:3], dtype=bool).reshape(-1)
    reference[rays] = True
    covered = out.mask.reshape(-1).numpy()
    agreement = (reference == covered).mean()
    assert agreement >= 0.995, f"{path.name}: coverage agrees on {agreement:.4%} of pixels"

    # Depth along each camera's view axis, where both see the surface.
    view = rays // (96 * 96)
    forward, eyes = cameras.forward.numpy()[view], cameras.eyes.numpy()[view]
    ray_depth = ((locations - eyes) * forward).sum(-1)
    both = covered[rays]
    error = np.abs(ray_depth[both] - out.depth.reshape(-1).numpy()[rays][both])
    assert np.median(error) < 1e-4
    assert (error < 0.02).mean() >= 0.99  # pixels on silhouettes may hit different triangles


def test_gradients_reach_texture_vertex_colours_and_positions() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    vertices = torch.tensor(sphere.vertices, dtype=torch.float32, requires_grad=True)
    faces = torch.tensor(sphere.faces)
    colours = torch.rand(len(vertices), 3, requires_grad=True)
    uv = torch.rand(len(vertices), 2)
    texture = torch.rand(16, 16, 3, requires_grad=True)
    cameras = Cameras.orbit([0.0, 90.0], 10.0, resolution=48)

    coloured = render_mesh(RenderMesh(vertices, faces, vertex_colors=colours), cameras)
    coloured.color.sum().backward()
    assert colours.grad is not None and colours.grad.abs().sum() > 0
    assert vertices.grad is not None and vertices.grad.abs().sum() > 0

    textured = render_mesh(RenderMesh(vertices.detach(), faces, uv=uv, texture=texture), cameras)
    textured.color.sum().backward()
    assert texture.grad is not None and texture.grad.abs().sum() > 0


def test_antialias_blends_silhouettes_and_moves_them_by_gradient() -> None:
    pos, tri = _one_triangle()
    pos = pos.clone().requires_grad_(True)
    rast = raster_torch.rasterize(pos, tri, (16, 16))
    colour = (rast[..., 3:] > 0).float()  # white triangle on black
    blended = raster_torch.antialias(colour, rast, pos, tri)
    fractional = ((blended > 0.01) & (blended < 0.99)).sum()
    assert fractional > 0  # pixels along the hypotenuse get partial coverage
    assert torch.equal(blended[0, 0, 0], colour[0, 0, 0])  # interior pixels keep their colour
    blended.sum().backward()
    assert pos.grad is not None and pos.grad.abs().sum() > 0


def test_texture_sampling_conventions() -> None:
    texture = torch.zeros(1, 2, 2, 1)
    texture[0, 0, 1] = 1.0  # row 0, column 1: u in (0.5, 1), v in (0, 0.5)
    uv = torch.tensor([[[[0.75, 0.25], [0.25, 0.25], [1.75, 0.25]]]])
    sampled = raster_torch.texture(texture, uv, "nearest", "wrap")[..., 0]
    assert sampled.tolist() == [[[1.0, 0.0, 1.0]]]


def test_backend_choice() -> None:
    assert isinstance(get_backend("auto", "cpu"), TorchBackend)
    assert isinstance(get_backend("torch"), TorchBackend)
    with pytest.raises(RenderError, match="unknown render backend"):
        get_backend("opengl")
    with pytest.raises(RenderError, match=r"CUDA|not installed"):
        get_backend("nvdiffrast", "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("path", REAL_MESHES, ids=lambda p: p.name)
def test_nvdiffrast_agrees_with_torch_backend(path: Path) -> None:
    if not nvdiffrast_available():
        pytest.skip("nvdiffrast is not installed")
    mesh = RenderMesh.from_trimesh(_normalised(path)).to("cuda")
    cameras = Cameras.orbit([20.0, 135.0, 250.0], [15.0, -30.0, 60.0], resolution=256)
    reference = render_mesh(mesh, cameras, backend="torch", antialias=False)
    cuda = render_mesh(mesh, cameras, backend="nvdiffrast", antialias=False)
    agreement = (reference.mask == cuda.mask).float().mean().item()
    assert agreement >= 0.995, f"{path.name}: backends agree on {agreement:.4%} of pixels"
    both = reference.mask & cuda.mask
    assert (reference.color - cuda.color).abs()[both].median() < 1e-3

"""Mesh extraction: hierarchical matches dense at a fraction of the queries; errors are clear."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from gen3d.data.meshes import load_mesh
from gen3d.data.procedural import generate_shape
from gen3d.data.procedural.palette import nearest_colour_word
from gen3d.data.procedural.sdf import Capsule, Sphere, Torus, Union
from gen3d.eval import chamfer
from gen3d.mesh import FieldError, extract_dense, extract_hierarchical, vertex_colours

pytestmark = pytest.mark.cost(25)  # seconds in the default run: scheduled early

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "meshes"


@pytest.mark.parametrize(
    "field",
    [Sphere(0.6), Torus(0.5, 0.2), generate_shape("chair", 0)],
    ids=["sphere", "torus", "chair"],
)
def test_hierarchical_matches_dense_at_an_eighth_of_the_queries(field) -> None:
    dense = extract_dense(field, 256)
    fast = extract_hierarchical(field, 256)
    assert dense.queries == 257**3
    assert fast.queries <= dense.queries / 8, fast.queries / dense.queries
    assert fast.resolution == 256
    samples = [trimesh.sample.sample_surface(m, 20_000, seed=0)[0] for m in (dense.mesh, fast.mesh)]
    # gen3d.eval's Chamfer-L2 averages the two directions; the bound is on their sum.
    assert 2 * chamfer(*samples)[1] <= 1e-5
    assert fast.mesh.is_watertight


def test_sphere_area_and_volume_match_the_analytic_values() -> None:
    mesh = extract_hierarchical(Sphere(0.6), 256).mesh
    assert mesh.area == pytest.approx(4 * math.pi * 0.6**2, rel=0.01)
    assert mesh.volume == pytest.approx(4 / 3 * math.pi * 0.6**3, rel=0.01)  # > 0: outward


def test_thin_parts_between_coarse_grid_points_are_kept() -> None:
    # A rod 0.024 thick: invisible to the 32-cell coarse grid (cells 0.0625 wide), ~3 cells
    # thick at 256. Only the band around near-surface corners finds it.
    rod = Capsule((-0.8, 0.53, 0.21), (0.8, 0.53, 0.21), 0.012)
    field = Union(Sphere(0.3), rod)
    dense = extract_dense(field, 256).mesh
    kept = extract_hierarchical(field, 256).mesh
    np.testing.assert_array_equal(kept.faces, dense.faces)
    near_rod = np.abs(rod(np.asarray(kept.vertices))) < 0.01
    assert near_rod.sum() > 1000
    # Without the band (near means "a corner on the surface") the rod is lost: the guard is
    # what keeps it.
    lost = extract_hierarchical(field, 256, band=0.01).mesh
    assert (np.abs(rod(np.asarray(lost.vertices))) < 0.01).sum() < near_rod.sum() / 10


def test_resolutions_that_do_not_halve_evenly() -> None:
    assert extract_hierarchical(Sphere(0.5), 200).resolution == 200  # 200 -> 100 -> 50 -> 25
    odd = extract_hierarchical(Sphere(0.5), 41)
    assert odd.resolution == 41 and odd.queries == 42**3  # nothing coarser: dense


@pytest.mark.parametrize("resolution", [0, 7, 100_000, 2.5, "256"])
def test_absurd_resolutions_are_refused(resolution) -> None:
    with pytest.raises(FieldError, match="resolution must be an integer from 8 to 512"):
        extract_hierarchical(Sphere(0.5), resolution)
    with pytest.raises(FieldError, match="resolution"):
        extract_dense(Sphere(0.5), resolution)


def test_bad_fields_get_clear_errors() -> None:
    def nan_field(points: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(points, axis=1) - 0.5
        d[points[:, 0] > 0.7] = np.nan
        return d

    with pytest.raises(FieldError, match=r"NaN or infinity at .* points"):
        extract_hierarchical(nan_field, 64)
    with pytest.raises(FieldError, match=r"no surface.*every value is outside"):
        extract_dense(lambda p: np.ones(len(p)), 16)
    with pytest.raises(FieldError, match=r"no surface.*every value is inside"):
        extract_hierarchical(lambda p: -np.ones(len(p)), 64)
    with pytest.raises(FieldError, match="returned 1 values for"):
        extract_dense(lambda p: np.zeros(1), 16)
    with pytest.raises(FieldError, match="not a field"):
        extract_dense(42, 16)


def test_torch_fields_and_callables_work() -> None:
    def torch_field(points: np.ndarray) -> torch.Tensor:
        return torch.linalg.vector_norm(torch.from_numpy(points), dim=-1) - 0.5

    mesh = extract_hierarchical(torch_field, 64).mesh
    np.testing.assert_allclose(np.linalg.norm(mesh.vertices, axis=1), 0.5, atol=2e-3)


def test_vertex_colours_come_from_the_field() -> None:
    chair = generate_shape("chair", 2)
    mesh = extract_hierarchical(chair, 64).mesh
    assert vertex_colours(chair, mesh)
    words = {nearest_colour_word(c[:3] / 255) for c in mesh.visual.vertex_colors}
    assert words == {part.colour for part in chair.parts}
    box = load_mesh(FIXTURES / "real" / "BoxTextured.glb")
    box_mesh = extract_hierarchical(box, 32).mesh
    assert vertex_colours(box, box_mesh)
    assert np.asarray(box_mesh.visual.vertex_colors)[:, :3].std(axis=0).max() > 10
    assert not vertex_colours(lambda p: np.linalg.norm(p, axis=1) - 0.5, box_mesh.copy())

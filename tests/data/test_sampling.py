"""SDF samples: on the surface, outward normals, exact distances, and signs that hold up on
meshes that are not watertight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from gen3d.data.inside import exact_winding_numbers
from gen3d.data.meshes import load_mesh
from gen3d.data.procedural import generate_shape
from gen3d.data.procedural.sdf import Box, Sphere
from gen3d.data.sampling import SamplingConfig, sample_sdf

MESHES = Path(__file__).resolve().parents[1] / "fixtures" / "meshes"
SMALL = SamplingConfig(n_surface=2000, n_near=3000, n_volume=1000, grid_resolution=96)


@pytest.mark.parametrize("category", ["chair", "mug", "lighthouse", "sword"])
def test_procedural_samples_are_exact(category: str) -> None:
    shape = generate_shape(category, 0)
    samples = sample_sdf(shape, SMALL, seed=1)
    assert samples.surface_points.shape == (2000, 3) and samples.near_sdf.shape == (3000,)
    assert all(a.dtype == np.float32 for a in samples.arrays().values())
    surface = samples.surface_points.astype(np.float64)
    assert np.abs(shape.sdf(surface)).max() < 1e-5  # projected onto the analytic surface
    normals = samples.surface_normals.astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    assert (shape.sdf(surface + 0.003 * normals) > 0).mean() > 0.98  # outward
    np.testing.assert_allclose(samples.surface_colours, shape.colour(surface), atol=1e-6)
    for points, sdf in (
        (samples.near_points, samples.near_sdf),
        (samples.volume_points, samples.volume_sdf),
    ):
        np.testing.assert_allclose(sdf, shape.sdf(points.astype(np.float64)), atol=1e-6)
    # Near samples straddle the surface; volume samples fill the cube.
    assert 0.2 < (samples.near_sdf < 0).mean() < 0.8
    assert samples.volume_points.min() < -0.9 and samples.volume_points.max() > 0.9


def test_samples_are_deterministic_by_seed_and_truncated_on_request() -> None:
    shape = generate_shape("table", 3)
    a, b = sample_sdf(shape, SMALL, seed=5), sample_sdf(shape, SMALL, seed=5)
    for key, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[key])
    c = sample_sdf(shape, SMALL, seed=6)
    assert not np.array_equal(a.volume_points, c.volume_points)
    truncated = sample_sdf(
        shape,
        SamplingConfig(
            n_surface=500, n_near=500, n_volume=2000, truncation=0.1, grid_resolution=64
        ),
    )
    assert np.abs(truncated.volume_sdf).max() <= 0.1 + 1e-7
    assert (np.abs(truncated.volume_sdf) == np.float32(0.1)).any()


@pytest.mark.parametrize(
    ("mesh", "analytic"),
    [
        # After normalisation with margin 0.1 the longest side spans [-0.9, 0.9].
        (trimesh.creation.icosphere(subdivisions=5, radius=3.0), Sphere(0.9)),
        (trimesh.creation.box(extents=(2.0, 1.2, 1.6)), Box((0.9, 0.54, 0.72))),
    ],
    ids=["sphere", "box"],
)
def test_mesh_path_matches_the_analytic_sdf(tmp_path: Path, mesh, analytic) -> None:
    mesh.export(tmp_path / "shape.ply")
    samples = sample_sdf(load_mesh(tmp_path / "shape.ply", margin=0.1), SMALL, seed=0)
    for points, sdf in (
        (samples.near_points, samples.near_sdf),
        (samples.volume_points, samples.volume_sdf),
    ):
        # The icosphere's faces cut inside the sphere by at most ~2e-4.
        np.testing.assert_allclose(sdf, analytic(points.astype(np.float64)), atol=1e-3)
    surface = samples.surface_points.astype(np.float64)
    assert np.abs(analytic(surface)).max() < 1e-3
    assert (analytic(surface + 0.01 * samples.surface_normals) > 0).all()
    assert samples.surface_colours is None


@pytest.mark.parametrize("name", ["bunny.ply", "chair_model.obj"])
def test_sign_agrees_with_winding_numbers_on_open_meshes(name: str) -> None:
    asset = load_mesh(MESHES / "real" / name)
    assert not asset.watertight
    samples = sample_sdf(asset, SMALL, seed=0)
    points = np.concatenate([samples.near_points, samples.volume_points]).astype(np.float64)
    sdf = np.concatenate([samples.near_sdf, samples.volume_sdf])
    away = np.abs(sdf) > 0.01  # outside a thin band around the surface
    reference = exact_winding_numbers(asset.vertices, asset.faces, points[away]) > 0.5
    agreement = ((sdf[away] < 0) == reference).mean()
    assert agreement >= 0.99, agreement
    assert reference.mean() > 0.05  # and the mesh does have an inside


def test_bad_sampling_options_are_refused() -> None:
    with pytest.raises(ValueError, match="n_surface"):
        SamplingConfig(n_surface=0)
    with pytest.raises(ValueError, match="truncation"):
        SamplingConfig(truncation=-1.0)
    with pytest.raises(ValueError, match="grid_resolution"):
        SamplingConfig(grid_resolution=4096)

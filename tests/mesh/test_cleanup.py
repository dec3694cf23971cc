"""Cleanup: decimation hits its budget and keeps watertight meshes watertight; repair works."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gen3d.data.procedural import generate_shape
from gen3d.data.procedural.sdf import Sphere, Torus, Union
from gen3d.mesh import extract_hierarchical
from gen3d.mesh.cleanup import CleanupError, clean_mesh, decimate, repair, smooth


@pytest.fixture(scope="module")
def meshes() -> dict[str, trimesh.Trimesh]:
    fields = {
        "sphere": Sphere(0.6),
        "torus": Torus(0.5, 0.2),
        "chair": generate_shape("chair", 0),
        "mug": generate_shape("mug", 1),
    }
    return {name: extract_hierarchical(field, 128).mesh for name, field in fields.items()}


@pytest.mark.parametrize("name", ["sphere", "torus", "chair", "mug"])
@pytest.mark.parametrize("target", [20_000, 5_000, 800])
def test_decimation_reaches_the_budget_and_stays_watertight(meshes, name, target) -> None:
    mesh = meshes[name]
    assert mesh.is_watertight
    out = decimate(mesh, target)
    assert abs(len(out.faces) - target) <= 0.05 * target
    assert out.is_watertight
    assert out.volume > 0  # still wound outwards
    if target >= 5_000:  # at 800 faces thin walls (the mug's) cannot keep their volume
        assert out.volume == pytest.approx(mesh.volume, rel=0.05)


def test_repair_removes_duplicate_and_degenerate_faces_and_fixes_winding() -> None:
    box = trimesh.creation.box()
    faces = np.vstack([box.faces, box.faces[:3], [[0, 0, 1]]])  # duplicates, a degenerate
    faces[5] = faces[5][::-1]  # one face wound the wrong way
    broken = trimesh.Trimesh(box.vertices, faces, process=False)
    fixed = repair(broken)
    assert len(fixed.faces) == 12 and fixed.is_watertight and fixed.is_winding_consistent
    assert fixed.volume == pytest.approx(1.0)


def test_small_components_are_dropped_and_large_ones_kept() -> None:
    speck = Sphere(0.03).translate(0.8, 0.8, 0.8)
    field = Union(Sphere(0.5), Sphere(0.15).translate(-0.75, 0.0, 0.0), speck)
    mesh = extract_hierarchical(field, 128).mesh
    assert len(mesh.split(only_watertight=False)) == 3
    cleaned = clean_mesh(mesh, min_component_fraction=0.01)
    assert len(cleaned.split(only_watertight=False)) == 2
    assert len(clean_mesh(mesh, min_component_fraction=0.0).split(only_watertight=False)) == 3


def test_smoothing_keeps_the_shape_and_face_count_option() -> None:
    mesh = extract_hierarchical(Sphere(0.6), 64).mesh
    smoothed = smooth(mesh, 10)
    np.testing.assert_allclose(np.linalg.norm(smoothed.vertices, axis=1), 0.6, atol=5e-3)
    out = clean_mesh(mesh, smooth_iterations=5, face_count=2_000)
    assert abs(len(out.faces) - 2_000) <= 100 and out.is_watertight


@pytest.mark.parametrize(
    "options",
    [
        {"face_count": 2},
        {"face_count": 10.5},
        {"min_component_fraction": 1.5},
        {"smooth_iterations": -1},
    ],
)
def test_bad_options_are_refused(options) -> None:
    mesh = trimesh.creation.icosphere()
    with pytest.raises(CleanupError):
        clean_mesh(mesh, **options)

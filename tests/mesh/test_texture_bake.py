"""Baking a field's colour into a UV texture: the textured GLB shows the field's colours."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gen3d.data.procedural import generate_shape
from gen3d.mesh import TextureError, bake_field_texture, extract_hierarchical, vertex_colours
from gen3d.mesh.export import export_mesh
from render import Cameras, RenderMesh, render_mesh


@pytest.fixture(scope="module")
def chair():
    shape = generate_shape("chair", 3)
    return shape, extract_hierarchical(shape, 64).mesh


def test_baked_glb_renders_like_the_vertex_coloured_mesh(tmp_path, chair) -> None:
    shape, mesh = chair
    textured = bake_field_texture(mesh, shape, texture_size=256)
    assert textured.visual.kind == "texture" and len(textured.faces) == len(mesh.faces)
    (path,) = export_mesh(textured, tmp_path / "chair.glb")
    loaded = trimesh.load(path, force="mesh")
    assert loaded.visual.material.baseColorTexture.size == (256, 256)

    coloured = mesh.copy()
    assert vertex_colours(shape, coloured)
    cameras = Cameras.orbit([30.0, 210.0], 25.0, resolution=96)
    baked = render_mesh(RenderMesh.from_trimesh(loaded), cameras, shading="albedo")
    reference = render_mesh(RenderMesh.from_trimesh(coloured), cameras, shading="albedo")
    both = baked.mask & reference.mask
    assert both.float().mean() > 0.1
    error = (baked.color - reference.color).abs()[both]
    # Texels sample the field between vertices, where vertex colours only interpolate.
    assert error.mean() < 0.03, f"mean colour difference {error.mean():.3f}"


def test_fields_without_colour_and_bad_sizes_are_refused(chair) -> None:
    _, mesh = chair
    with pytest.raises(TextureError, match="no colour"):
        bake_field_texture(mesh, lambda points: np.linalg.norm(points, axis=-1) - 0.5)
    with pytest.raises(TextureError, match="texture_size"):
        bake_field_texture(mesh, chair[0], texture_size=4)
    with pytest.raises(TextureError, match="sample_scale"):
        bake_field_texture(mesh, chair[0], sample_scale=0.0)
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    with pytest.raises(TextureError, match="no faces"):
        bake_field_texture(empty, chair[0])

"""Which files' own UVs one baked texture can serve (gen3d.mesh.scene.shared_atlas_uv)."""

from __future__ import annotations

import numpy as np
import trimesh

from gen3d.data.meshes import read_mesh_and_uv
from gen3d.mesh.scene import shared_atlas_uv


def _part(offset: float, uv_low: float, uv_high: float) -> trimesh.Trimesh:
    """A box at ``offset`` along x whose UVs project it into the square from ``uv_low`` to
    ``uv_high`` (in u) of the unit square."""
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    box.apply_translation([offset, 0.0, 0.0])
    low, high = box.bounds
    unit = (box.vertices[:, :2] - low[:2]) / (high[:2] - low[:2])
    uv = np.column_stack([uv_low + unit[:, 0] * (uv_high - uv_low), unit[:, 1]])
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[0.8, 0.8, 0.8, 1.0])
    box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return box


def _scene(*parts: trimesh.Trimesh) -> trimesh.Scene:
    scene = trimesh.Scene()
    for index, part in enumerate(parts):
        scene.add_geometry(part, geom_name=f"part{index}")
    return scene


def test_parts_sharing_one_atlas_keep_their_uvs_in_file_order(tmp_path) -> None:
    left, right = _part(-1.0, 0.0, 0.45), _part(1.0, 0.55, 1.0)
    path = tmp_path / "atlas.glb"
    _scene(left, right).export(path)
    mesh, uv = read_mesh_and_uv(path)
    assert uv is not None and len(uv) == len(mesh.vertices) == 2 * len(left.vertices)
    # Each vertex keeps its own UV: the left box's vertices map into the left of the atlas.
    on_left = mesh.vertices[:, 0] < 0
    assert (uv[on_left, 0] <= 0.45 + 1e-6).all() and (uv[~on_left, 0] >= 0.55 - 1e-6).all()


def test_overlapping_layouts_or_a_part_without_uvs_get_none() -> None:
    overlapping = _scene(_part(-1.0, 0.0, 1.0), _part(1.0, 0.0, 1.0))
    assert shared_atlas_uv(overlapping) is None  # each would need a texture of its own
    bare = trimesh.creation.box()
    assert shared_atlas_uv(_scene(_part(-1.0, 0.0, 0.45), bare)) is None
    single = _part(0.0, 0.0, 1.0)
    np.testing.assert_allclose(shared_atlas_uv(single), single.visual.uv)
    # Charts that only touch at a border still share the atlas.
    touching = _scene(_part(-1.0, 0.0, 0.5), _part(1.0, 0.5, 1.0))
    assert shared_atlas_uv(touching) is not None

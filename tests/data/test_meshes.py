"""Mesh ingestion: every real test mesh loads; every malformed one loads or says why not."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from gen3d.data.meshes import MeshError, load_mesh, normalise_mesh, read_mesh_and_uv
from gen3d.shape_input import load_shape

MESHES = Path(__file__).resolve().parents[1] / "fixtures" / "meshes"
REAL = sorted((MESHES / "real").glob("*"))
MARGIN = 0.1

# Each malformed file, and what must happen to it: ingested (None) or the reason it is refused.
MALFORMED = {
    "empty.obj": "is empty",
    "empty.stl": "is empty",
    # Two closed bodies side by side: a valid shape.
    "multibody.stl": None,
    # trimesh would read NaN colours as black; the file is broken, so say so.
    "nancolor.obj": "vertex colours are not finite",
    # OBJ allows negative (relative) indices; resolved, this is a plain cube.
    "negative_indices.obj": None,
    "notenoughindices.obj": "a face with 2 vertices",
    "obj_wireframe.obj": "wireframe",
    "plane.ply": "is flat",
    "points_ascii.ply": "point cloud",
    # One non-planar pentagon: an open sheet with nothing inside it.
    "polygonfaces.obj": "encloses no volume",
    "soup.stl": "triangle soup",
    # A cube and a tetrahedron that overlap: still a solid (the overlap counts once).
    "two_objects.obj": None,
}


def _inside_fraction(asset, n: int = 20_000) -> float:
    points = np.random.default_rng(0).uniform(-1, 1, size=(n, 3))
    return float((asset.sdf(points) < 0).mean())


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_meshes_ingest_into_the_unit_cube(path: Path) -> None:
    asset = load_mesh(path, margin=MARGIN)
    lo, hi = asset.vertices.min(axis=0), asset.vertices.max(axis=0)
    assert np.all(lo >= -1 + MARGIN - 1e-9) and np.all(hi <= 1 - MARGIN + 1e-9)
    assert np.max(hi - lo) == pytest.approx(2 * (1 - MARGIN))
    assert 0.001 < _inside_fraction(asset) < 0.75
    original = asset.vertices / asset.scale + asset.centre
    assert np.isfinite(original).all()


def test_every_malformed_file_is_listed() -> None:
    assert sorted(p.name for p in (MESHES / "malformed").iterdir()) == sorted(MALFORMED)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_ingest_or_fail_with_one_line(name: str) -> None:
    expected = MALFORMED[name]
    path = MESHES / "malformed" / name
    if expected is None:
        asset = load_mesh(path)
        assert _inside_fraction(asset) > 0.001
        return
    with pytest.raises(MeshError) as caught:
        load_mesh(path)
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and expected in message
    assert "\n" not in message


def test_negative_indices_resolve_to_the_cube() -> None:
    asset = load_mesh(MESHES / "malformed" / "negative_indices.obj", margin=MARGIN)
    assert _inside_fraction(asset) == pytest.approx((1 - MARGIN) ** 3, abs=0.01)


def test_double_sided_and_inverted_meshes_still_have_an_inside(tmp_path: Path) -> None:
    # Every face present twice, once each way: winding numbers cancel to 0 unless the
    # duplicates are removed first.
    cube = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    doubled = trimesh.Trimesh(cube.vertices, np.vstack([cube.faces, cube.faces[:, ::-1]]))
    doubled.export(tmp_path / "double.ply")
    inverted = trimesh.Trimesh(cube.vertices, cube.faces[:, ::-1])
    inverted.export(tmp_path / "inverted.stl")
    for name in ("double.ply", "inverted.stl"):
        asset = load_mesh(tmp_path / name, margin=MARGIN)
        assert _inside_fraction(asset) == pytest.approx((1 - MARGIN) ** 3, abs=0.01), name


def test_colours_come_from_vertex_colours_and_textures(tmp_path: Path) -> None:
    cube = trimesh.creation.box(extents=(1.0, 2.0, 1.0))
    cube.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(cube.vertices), 1))
    cube.export(tmp_path / "red.ply")
    asset = load_mesh(tmp_path / "red.ply")
    _, rgb = asset.query(np.array([[0.0, 0.0, 0.0], [0.3, 0.8, 0.0]]))
    np.testing.assert_allclose(rgb, [[200 / 255, 30 / 255, 30 / 255]] * 2, atol=1e-6)

    textured = load_mesh(MESHES / "real" / "BoxTextured.glb")
    assert textured.colours is not None and textured.colours.kind == "texture"
    _, rgb = textured.query(np.random.default_rng(0).uniform(-1, 1, (500, 3)))
    assert rgb.std(axis=0).max() > 0.05  # the logo's colours, not one flat colour
    # Files with UVs but no image get no invented grey.
    assert load_mesh(MESHES / "real" / "suzanne.ply").colours is None


def test_gltf_colours_survive_ingestion(tmp_path: Path) -> None:
    """glTF vertex colours under a material (how gen3d's own GLBs store them) and untextured
    materials' base colours both reach the dataset, as the sRGB values gen3d trains on;
    trimesh's own scene flattening drops both."""
    from gen3d.mesh import export_mesh

    coloured = trimesh.creation.box(extents=(1.0, 2.0, 1.0))
    coloured.visual.vertex_colors = np.tile([200, 30, 120, 255], (len(coloured.vertices), 1))
    export_mesh(coloured, tmp_path / "ours.glb")  # COLOR_0, linear, under a white material
    _, rgb = load_mesh(tmp_path / "ours.glb").query(np.array([[0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(rgb[0] * 255, [200, 30, 120], atol=2.0)

    # Two parts, each with its own untextured material: a red seat over blue legs.
    scene = trimesh.Scene()
    for name, offset, linear_rgb in (("seat", 0.6, [0.8, 0.0, 0.0]), ("legs", -0.6, [0, 0, 0.5])):
        part = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
        material = trimesh.visual.material.PBRMaterial(baseColorFactor=[*linear_rgb, 1.0])
        part.visual = trimesh.visual.TextureVisuals(material=material)
        scene.add_geometry(
            part,
            node_name=name,
            transform=trimesh.transformations.translation_matrix([0, offset, 0]),
        )
    scene.export(tmp_path / "parts.glb")
    asset = load_mesh(tmp_path / "parts.glb", margin=MARGIN)
    assert asset.colours is not None
    _, rgb = asset.query(np.array([[0.0, 0.5, 0.0], [0.0, -0.5, 0.0]]))
    # linear 0.8 is sRGB 0.906 and linear 0.5 is sRGB 0.735
    np.testing.assert_allclose(rgb, [[0.906, 0.0, 0.0], [0.0, 0.0, 0.735]], atol=0.01)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad_index.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", "face index 9 is out of range"),
        ("nan_vertex.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "vertex coordinates"),
        # A damaged file whose first vertex has two coordinates: trimesh reads every vertex
        # as 2D, which crashed normalisation with a numpy broadcast error.
        ("short_vertex.obj", "v 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "line 1: a vertex with 2"),
        ("garbage.glb", "this is not a glb file", "not a readable GLB file"),
        ("model.fbx", "anything", "unsupported format '.fbx'"),
        ("zero.stl", "", "is empty (0 bytes)"),
    ],
)
def test_broken_files_name_the_problem(tmp_path: Path, name: str, content: str, reason: str):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MeshError, match=re.escape(reason)):
        load_mesh(path)


def test_a_glb_with_a_damaged_texture_is_refused_by_name(tmp_path: Path) -> None:
    """trimesh decodes textures lazily; a damaged one was Pillow's OSError deep in a copy."""
    data = bytearray((MESHES / "real" / "BoxTextured.glb").read_bytes())
    start = data.find(b"IDAT", data.find(b"\x89PNG")) + 30
    data[start : start + 30] = bytes(30)
    path = tmp_path / "damaged.glb"
    path.write_bytes(bytes(data))
    for read in (load_mesh, read_mesh_and_uv):
        with pytest.raises(MeshError, match="its base colour texture cannot be decoded"):
            read(path)


def _glb_with_face_index(index: int, vertex_colours: bool) -> bytes:
    """A box as GLB whose first face's first index is overwritten, as damage would."""
    box = trimesh.creation.box()
    if vertex_colours:
        box.visual.vertex_colors = [200, 30, 30, 255]
    data = bytearray(box.export(file_type="glb"))
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_length])
    accessor = document["accessors"][document["meshes"][0]["primitives"][0]["indices"]]
    view = document["bufferViews"][accessor["bufferView"]]
    assert accessor["componentType"] == 5125  # unsigned 32-bit indices
    binary_start = 20 + json_length + 8  # after the BIN chunk's own length and type
    offset = binary_start + view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    struct.pack_into("<I", data, offset, index)
    return bytes(data)


@pytest.mark.parametrize("vertex_colours", [True, False], ids=["coloured", "plain"])
def test_a_glb_with_damaged_face_indices_is_refused_by_name(tmp_path, vertex_colours) -> None:
    """trimesh loads indices unchecked; with vertex colours they failed deep in a copy."""
    path = tmp_path / "damaged.glb"
    path.write_bytes(_glb_with_face_index(235, vertex_colours))
    expected = r"face 0 names vertex 235, but there are only 8 vertices \(1 of 12 faces"
    for read in (load_mesh, read_mesh_and_uv, load_shape):
        with pytest.raises(MeshError, match=expected):
            read(path)
    path.write_bytes(_glb_with_face_index(7, vertex_colours))  # in range: still a mesh
    assert len(read_mesh_and_uv(path)[0].faces) == 12


def test_a_mesh_with_2d_vertices_is_refused() -> None:
    flat = trimesh.Trimesh(np.zeros((3, 2)), [[0, 1, 2]], process=False)
    with pytest.raises(MeshError, match=r"vertices have 2 coordinates each, not 3"):
        normalise_mesh(flat)


def test_missing_file_and_face_limit(tmp_path: Path) -> None:
    with pytest.raises(MeshError, match="no such file"):
        load_mesh(tmp_path / "missing.obj")
    with pytest.raises(MeshError, match="over the limit of 100"):
        load_mesh(MESHES / "real" / "torus.STL", max_faces=100)


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".stl", ".off", ".glb", ".gltf"])
def test_every_supported_format_loads(tmp_path: Path, suffix: str) -> None:
    box = trimesh.creation.box(extents=(2.0, 1.0, 1.0))
    path = tmp_path / f"box{suffix}"
    box.export(path)
    asset = load_mesh(path, margin=MARGIN)
    # A 2 x 1 x 1 box fills 1/4 of its bounding cube: 0.9^3 / 4 of [-1, 1]^3.
    assert _inside_fraction(asset) == pytest.approx(0.9**3 / 4, abs=0.01)


def test_fast_and_exact_winding_numbers_agree() -> None:
    from gen3d.data.inside import clean_surface, exact_winding_numbers, winding_numbers

    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    surface = clean_surface(sphere.vertices, sphere.faces)
    points = np.random.default_rng(0).uniform(-1, 1, size=(500, 3))
    exact = exact_winding_numbers(surface.vertices, surface.faces, points)
    inside = np.linalg.norm(points, axis=1) < 0.49
    outside = np.linalg.norm(points, axis=1) > 0.51
    np.testing.assert_allclose(exact[inside], 1.0, atol=1e-9)
    np.testing.assert_allclose(exact[outside], 0.0, atol=1e-9)
    np.testing.assert_allclose(winding_numbers(surface, points), exact, atol=0.02)


def test_a_mesh_reads_only_files_beside_it(tmp_path: Path) -> None:
    """An OBJ's mtllib (or a glTF's buffer) may not name files outside the mesh's folder:
    trimesh's own resolver follows absolute paths and '..', so an uploaded mesh naming
    /dev/zero would hang a service worker. Files beside the mesh still work."""
    from gen3d.data.meshes import SiblingFiles

    secret = tmp_path / "secret.mtl"
    secret.write_text("newmtl leaked\nKd 1 0 0\n")
    folder = tmp_path / "meshes"
    folder.mkdir()
    tetra = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n"
    for name, header in (
        ("absolute.obj", f"mtllib {secret}\n"),
        ("up.obj", "mtllib ../secret.mtl\n"),
    ):
        (folder / name).write_text(header + "usemtl leaked\n" + tetra)
        asset = load_mesh(folder / name)  # loads, without the material it may not read
        assert asset.colours is None, name
    resolver = SiblingFiles(folder / "up.obj")
    for name in (str(secret), "../secret.mtl", "sub/../../secret.mtl", "/dev/zero"):
        with pytest.raises(ValueError, match="outside the mesh's folder"):
            resolver.get(name)

    # A material beside the mesh still counts.
    (folder / "red.mtl").write_text("newmtl red\nKd 1 0 0\n")
    (folder / "red.obj").write_text("mtllib red.mtl\nusemtl red\n" + tetra)
    _, rgb = load_mesh(folder / "red.obj").query(np.array([[0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(rgb[0], [1.0, 0.0, 0.0], atol=0.01)

"""Export: GLB that passes the Khronos validator with metadata in asset.extras; OBJ, PLY."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from gen3d.data.procedural import generate_shape
from gen3d.mesh import extract_hierarchical, vertex_colours
from gen3d.mesh.export import GENERATOR, ExportError, export_mesh

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_DIR = Path(os.environ.get("GEN3D_GLTF_VALIDATOR_DIR", ROOT / ".cache" / "gltf-validator"))
VALIDATOR_SCRIPT = Path(__file__).with_name("gltf_validate.js")


def validate(path: Path) -> dict:
    """The Khronos glTF validator's report for ``path`` (skips where it is not installed)."""
    node = shutil.which("node")
    if node is None or not (VALIDATOR_DIR / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("gltf-validator not installed (scripts/test installs it where npm exists)")
    env = {**os.environ, "NODE_PATH": str(VALIDATOR_DIR / "node_modules")}
    result = subprocess.run(
        [node, str(VALIDATOR_SCRIPT), str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def glb_json(path: Path) -> dict:
    """The JSON chunk of a GLB file."""
    data = path.read_bytes()
    magic, version, _ = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20 : 20 + length])


@pytest.fixture(scope="module")
def coloured_chair() -> trimesh.Trimesh:
    chair = generate_shape("chair", 1)
    mesh = extract_hierarchical(chair, 64).mesh
    assert vertex_colours(chair, mesh)
    return mesh


def textured_box() -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    # A per-face-corner UV layout: split vertices so every face has its own UVs.
    box = trimesh.Trimesh(box.triangles.reshape(-1, 3), np.arange(36).reshape(-1, 3), process=False)
    uv = np.tile([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], (12, 1))
    image = Image.fromarray(np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (16, 1)))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image.convert("RGB"))
    box.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return box


def test_glb_with_vertex_colours_is_valid_and_carries_metadata(tmp_path, coloured_chair):
    path = tmp_path / "chair.glb"
    written = export_mesh(
        coloured_chair, path, metadata={"prompt": "a red chair", "seed": 7, "path": tmp_path}
    )
    assert written == [path]
    tree = glb_json(path)
    assert tree["asset"]["generator"] == GENERATOR
    extras = tree["asset"]["extras"]
    assert extras["prompt"] == "a red chair" and extras["seed"] == 7
    assert extras["path"] == str(tmp_path)  # non-JSON values become strings
    primitive = tree["meshes"][0]["primitives"][0]
    assert "COLOR_0" in primitive["attributes"] and "NORMAL" in primitive["attributes"]
    material = tree["materials"][primitive["material"]]["pbrMetallicRoughness"]
    assert material["baseColorFactor"] == [1.0, 1.0, 1.0, 1.0]
    report = validate(path)
    assert report["errors"] == 0, report["messages"]
    # It reads back as the same geometry, +Y up.
    loaded = trimesh.load(path, force="mesh")
    assert len(loaded.faces) == len(coloured_chair.faces)
    np.testing.assert_allclose(loaded.bounds, coloured_chair.bounds, atol=1e-6)


def test_glb_vertex_colours_are_linear_as_gltf_says(tmp_path):
    """A viewer reads COLOR_0 as linear: sRGB grey 128 must be written as 55, or every
    vertex-coloured asset shows lighter and greyer than its textured twin. gen3d's own
    preview decodes it back."""
    from gen3d.cli.preview import load_render_mesh

    box = trimesh.creation.box()
    box.visual.vertex_colors = np.tile([128, 64, 200, 255], (len(box.vertices), 1))
    path = tmp_path / "box.glb"
    export_mesh(box, path)
    (stored,) = trimesh.load(path, process=False).geometry.values()
    np.testing.assert_array_equal(stored.visual.vertex_attributes["color"][0], [55, 13, 147, 255])
    assert box.visual.vertex_colors[0, 0] == 128  # the caller's mesh is left as it was
    drawn = load_render_mesh(path).vertex_colors[0].numpy()
    np.testing.assert_allclose(drawn * 255, [128, 64, 200], atol=2.5)

    # Another tool's GLB: COLOR_0 with no material at all is linear too.
    box.visual.vertex_colors = np.tile([55, 13, 147, 255], (len(box.vertices), 1))
    box.export(tmp_path / "plain.glb")
    drawn = load_render_mesh(tmp_path / "plain.glb").vertex_colors[0].numpy()
    np.testing.assert_allclose(drawn * 255, [128, 64, 200], atol=2.5)


def test_glb_with_a_texture_is_valid(tmp_path):
    path = tmp_path / "box.glb"
    export_mesh(textured_box(), path)
    tree = glb_json(path)
    material = tree["materials"][tree["meshes"][0]["primitives"][0]["material"]]
    assert "baseColorTexture" in material["pbrMetallicRoughness"]
    assert validate(path)["errors"] == 0


def test_obj_writes_material_and_texture_files(tmp_path, coloured_chair):
    files = export_mesh(textured_box(), tmp_path / "box.obj")
    suffixes = sorted(p.suffix for p in files)
    assert suffixes == [".mtl", ".obj", ".png"]
    assert all(p.stat().st_size > 0 for p in files)
    assert "mtllib box.mtl" in (tmp_path / "box.obj").read_text()
    loaded = trimesh.load(tmp_path / "box.obj", force="mesh")
    assert loaded.visual.kind == "texture" and len(loaded.faces) == 12
    # Vertex colours go into the OBJ itself (v x y z r g b), read by Blender and MeshLab.
    (path,) = export_mesh(coloured_chair, tmp_path / "chair.obj")
    first_vertex = next(line for line in path.read_text().splitlines() if line.startswith("v "))
    assert len(first_vertex.split()) == 7


def test_ply_keeps_vertex_colours(tmp_path, coloured_chair):
    (path,) = export_mesh(coloured_chair, tmp_path / "chair.ply")
    loaded = trimesh.load(path, process=False)
    np.testing.assert_array_equal(loaded.visual.vertex_colors, coloured_chair.visual.vertex_colors)


def _usd_problems(stage) -> list[str]:
    """Every validator USD ships (stage metadata, packaging, references, shading, ...)."""
    from pxr import UsdValidation

    registry = UsdValidation.ValidationRegistry()
    context = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators())
    return [error.GetMessage() for error in context.Validate(stage)]


def test_usdz_with_a_texture_is_a_valid_package(tmp_path):
    import zipfile

    from pxr import Usd, UsdGeom, UsdShade

    box = textured_box()
    (path,) = export_mesh(box, tmp_path / "box.usdz", metadata={"prompt": "a box", "seed": 4})
    stage = Usd.Stage.Open(str(path))
    assert _usd_problems(stage) == []
    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == 1
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/asset/mesh"))
    np.testing.assert_allclose(np.array(mesh.GetPointsAttr().Get()), box.vertices, atol=1e-6)
    np.testing.assert_array_equal(
        np.array(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3), box.faces
    )
    assert mesh.GetSubdivisionSchemeAttr().Get() == "none"  # not smoothed as a subdivision surface
    st = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st")
    np.testing.assert_allclose(np.array(st.Get()), box.visual.uv, atol=1e-6)
    material, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
    shader = UsdShade.Shader(stage.GetPrimAtPath(material.GetPath().AppendChild("base_color")))
    texture_file = shader.GetInput("file").Get().path
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
        assert names[0].endswith(".usdc") and texture_file in names  # the ARKit layout
        image = Image.open(package.open(texture_file))
        assert image.size == (16, 16)
    layer_data = stage.GetRootLayer().customLayerData["gen3d"]
    assert layer_data["prompt"] == "a box" and layer_data["generator"] == GENERATOR


def test_usdz_with_vertex_colours_shows_them(tmp_path, coloured_chair):
    from pxr import Usd, UsdGeom

    (path,) = export_mesh(coloured_chair, tmp_path / "chair.usdz", metadata={"tags": [1, 2]})
    stage = Usd.Stage.Open(str(path))
    assert _usd_problems(stage) == []
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/asset/mesh"))
    colours = np.array(mesh.GetDisplayColorPrimvar().Get())
    assert colours.shape == (len(coloured_chair.vertices), 3)
    # displayColor is linear: the sRGB-encoded vertex colours come back after encoding
    encoded = np.where(
        colours <= 0.0031308, colours * 12.92, 1.055 * np.power(colours, 1 / 2.4) - 0.055
    )
    np.testing.assert_allclose(encoded * 255, coloured_chair.visual.vertex_colors[:, :3], atol=0.6)
    assert stage.GetRootLayer().customLayerData["gen3d"]["tags"] == "[1, 2]"


def test_bad_exports_are_refused(tmp_path, coloured_chair):
    with pytest.raises(ExportError, match=r"unsupported format '\.fbx'"):
        export_mesh(coloured_chair, tmp_path / "chair.fbx")
    with pytest.raises(ExportError, match="does not exist"):
        export_mesh(coloured_chair, tmp_path / "missing" / "chair.glb")
    with pytest.raises(ExportError, match="no faces"):
        export_mesh(trimesh.Trimesh(), tmp_path / "empty.glb")


def test_usdz_reads_back_with_its_texture_and_colours(tmp_path, coloured_chair):
    from gen3d.cli.preview import load_render_mesh
    from gen3d.mesh.usd import load_usd

    box = textured_box()
    (path,) = export_mesh(box, tmp_path / "box.usdz")
    loaded = load_usd(path)
    np.testing.assert_allclose(loaded.vertices, box.vertices, atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, box.faces)
    np.testing.assert_allclose(loaded.visual.uv, box.visual.uv, atol=1e-6)
    texture = np.asarray(loaded.visual.material.baseColorTexture)
    np.testing.assert_array_equal(texture, np.asarray(box.visual.material.baseColorTexture))
    assert load_render_mesh(path).texture is not None  # gen3d preview draws it

    (path,) = export_mesh(coloured_chair, tmp_path / "chair.usdz")
    colours = load_usd(path).visual.vertex_colors
    np.testing.assert_allclose(colours, coloured_chair.visual.vertex_colors, atol=1)


def test_a_z_up_usd_of_quads_is_ingested_as_y_up_triangles(tmp_path):
    from gen3d.data import load_mesh

    path = tmp_path / "slab.usda"
    path.write_text(
        """#usda 1.0
(
    upAxis = "Z"
    metersPerUnit = 1
)
def Xform "root"
{
    double3 xformOp:translate = (0, 0, 5)
    uniform token[] xformOpOrder = ["xformOp:translate"]
    def Mesh "slab"
    {
        point3f[] points = [(0,0,0), (2,0,0), (2,1,0), (0,1,0), (0,0,3), (2,0,3), (2,1,3), (0,1,3)]
        int[] faceVertexCounts = [4, 4, 4, 4, 4, 4]
        int[] faceVertexIndices = [0,3,2,1, 4,5,6,7, 0,1,5,4, 1,2,6,5, 2,3,7,6, 3,0,4,7]
    }
}
"""
    )
    from gen3d.mesh.usd import load_usd

    mesh = load_usd(path)
    assert mesh.faces.shape == (12, 3)
    # 3 tall along USD's Z (up) becomes 3 tall along Y; the translation moved it up by 5
    np.testing.assert_allclose(mesh.bounds, [[0, 5, -1], [2, 8, 0]], atol=1e-9)
    asset = load_mesh(path)  # the dataset builder's reader takes it too
    assert len(asset.surface.faces) == 12

    empty = tmp_path / "empty.usda"
    empty.write_text('#usda 1.0\ndef Xform "nothing" {}\n')
    with pytest.raises(Exception, match="no meshes"):
        load_mesh(empty)
    broken = tmp_path / "broken.usdz"
    broken.write_bytes(b"PK\x03\x04 not really a package")
    with pytest.raises(ValueError, match=r"^USD cannot open it: Failed to open layer") as caught:
        load_usd(broken)
    assert "pxrInternal" not in str(caught.value)  # USD's message, not its C++ locations

"""Write meshes as USDZ: one file that iOS and macOS open in AR Quick Look, and that Blender,
Houdini, Omniverse and Reality Composer import.

The package holds a binary USD layer and, for a textured mesh, its base-colour PNG. The
layer is +Y up in metres like the other formats; the mesh is a polygon mesh (subdivision
scheme ``none``, or viewers would smooth it as a subdivision surface) with vertex normals
and, when textured, ``primvars:st``; its ``UsdPreviewSurface`` material, non-metallic and
fairly rough like the GLB's, takes the texture or the vertex colours (``displayColor``) as
its diffuse colour. The generator and metadata (prompt, seed, options) go in the layer's
``customLayerData`` under ``gen3d``. Packaging follows Apple's ARKit profile
(``UsdUtils.CreateNewARKitUsdzPackage``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from gen3d.mesh.colour_space import srgb_to_linear

ROOT = "/asset"
TEXTURE_NAME = "base_color.png"


def export_usdz(
    mesh: trimesh.Trimesh, path: Path, metadata: dict[str, Any], generator: str
) -> list[Path]:
    """Write ``mesh`` to ``path`` (``.usdz``); returns the files written."""
    from pxr import Usd, UsdGeom, UsdUtils

    with tempfile.TemporaryDirectory(prefix="gen3d-usdz-") as folder:
        layer_path = Path(folder) / f"{path.stem or 'asset'}.usdc"
        stage = Usd.Stage.CreateNew(str(layer_path))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        root = UsdGeom.Xform.Define(stage, ROOT)
        stage.SetDefaultPrim(root.GetPrim())
        stage.GetRootLayer().customLayerData = {
            "gen3d": {"generator": generator, **_usd_safe(metadata)}
        }
        geometry = _define_mesh(stage, mesh)
        image = _texture_image(mesh)
        if image is not None:
            image.save(Path(folder) / TEXTURE_NAME)
        _bind_material(stage, geometry, textured=image is not None)
        stage.GetRootLayer().Save()
        del stage  # release the layer before packaging it
        if not UsdUtils.CreateNewARKitUsdzPackage(str(layer_path), str(path)):
            raise OSError(f"USD could not package {path.name}")
    return [path]


def _usd_safe(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as values a USD dictionary holds: strings, numbers, bools, nested dicts;
    anything else (lists, None) as its JSON text."""
    import json

    safe: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, dict):
            safe[key] = _usd_safe(value)
        elif isinstance(value, bool | int | float | str):
            safe[key] = value
        else:
            safe[key] = json.dumps(value)
    return safe


def _define_mesh(stage: Any, mesh: trimesh.Trimesh) -> Any:
    from pxr import Gf, UsdGeom, Vt

    geometry = UsdGeom.Mesh.Define(stage, f"{ROOT}/mesh")
    vertices = np.asarray(mesh.vertices, dtype=np.float32)
    faces = np.asarray(mesh.faces, dtype=np.int32)
    geometry.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(vertices))
    geometry.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)))
    geometry.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(faces.reshape(-1)))
    geometry.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    geometry.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)  # counter-clockwise, as glTF
    normals = np.asarray(mesh.vertex_normals, dtype=np.float32)
    geometry.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(normals))
    geometry.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    low, high = vertices.min(0), vertices.max(0)
    geometry.CreateExtentAttr(
        Vt.Vec3fArray([Gf.Vec3f(*map(float, low)), Gf.Vec3f(*map(float, high))])
    )
    primvars = UsdGeom.PrimvarsAPI(geometry)
    uv = getattr(mesh.visual, "uv", None)
    if uv is not None and len(uv) == len(vertices):
        st = primvars.CreatePrimvar("st", _sdf_type("TexCoord2fArray"), UsdGeom.Tokens.vertex)
        st.Set(Vt.Vec2fArray.FromNumpy(np.asarray(uv, dtype=np.float32)))
    elif mesh.visual.kind == "vertex":
        colours = np.asarray(mesh.visual.vertex_colors[:, :3], dtype=np.float32) / 255.0
        display = geometry.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex)
        linear = srgb_to_linear(colours).astype(np.float32)  # displayColor is linear
        display.Set(Vt.Vec3fArray.FromNumpy(linear))
    return geometry


def _sdf_type(name: str) -> Any:
    from pxr import Sdf

    return getattr(Sdf.ValueTypeNames, name)


def _texture_image(mesh: trimesh.Trimesh) -> Any:
    material = getattr(mesh.visual, "material", None)
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    if image is None or getattr(mesh.visual, "uv", None) is None:
        return None
    return image.convert("RGB")


def _bind_material(stage: Any, geometry: Any, *, textured: bool) -> None:
    from pxr import Sdf, UsdShade

    material = UsdShade.Material.Define(stage, f"{ROOT}/material")
    surface = UsdShade.Shader.Define(stage, f"{ROOT}/material/surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.8)
    diffuse = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    if textured:
        reader = UsdShade.Shader.Define(stage, f"{ROOT}/material/st_reader")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        texture = UsdShade.Shader.Define(stage, f"{ROOT}/material/base_color")
        texture.CreateIdAttr("UsdUVTexture")
        texture.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(TEXTURE_NAME)
        texture.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        texture.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
        texture.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
        texture.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result"
        )
        texture.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        diffuse.ConnectToSource(texture.ConnectableAPI(), "rgb")
    else:
        reader = UsdShade.Shader.Define(stage, f"{ROOT}/material/colour_reader")
        reader.CreateIdAttr("UsdPrimvarReader_float3")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("displayColor")
        reader.CreateOutput("result", Sdf.ValueTypeNames.Float3)
        diffuse.ConnectToSource(reader.ConnectableAPI(), "result")
    UsdShade.MaterialBindingAPI.Apply(geometry.GetPrim()).Bind(material)

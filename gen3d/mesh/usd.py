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
    from render.mesh import material_image

    image = material_image(getattr(mesh.visual, "material", None))
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


USD_SUFFIXES = (".usdz", ".usd", ".usda", ".usdc")


def load_usd(path: str | Path) -> trimesh.Trimesh:
    """Every mesh of a USD file or USDZ package as one trimesh, in world space, +Y up.

    Polygons are fanned into triangles. Colour comes along where it is simple to read: a
    vertex-interpolated ``st`` with a bound ``UsdUVTexture`` (a texture image), or a vertex
    ``displayColor`` (linear, encoded back to sRGB); else the mesh is plain. Raises
    ``ValueError`` naming the problem for a file with no mesh.
    """
    from pxr import Usd, UsdGeom

    try:
        stage = Usd.Stage.Open(str(path))
    except Exception as error:  # pxr raises Tf.ErrorException, with C++ locations in it
        raise ValueError(f"USD cannot open it: {_usd_reason(error)}") from None
    if stage is None:
        raise ValueError("USD cannot open it")
    up_is_z = UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    cache = UsdGeom.XformCache()
    parts = []
    for prim in stage.Traverse():
        if not prim.IsA(UsdGeom.Mesh):
            continue
        mesh = UsdGeom.Mesh(prim)
        points = mesh.GetPointsAttr().Get()
        counts = mesh.GetFaceVertexCountsAttr().Get()
        indices = mesh.GetFaceVertexIndicesAttr().Get()
        if points is None or counts is None or indices is None or len(counts) == 0:
            continue
        vertices = np.asarray(points, dtype=np.float64)
        world = np.asarray(cache.GetLocalToWorldTransform(prim), dtype=np.float64)
        vertices = vertices @ world[:3, :3] + world[3, :3]  # USD matrices act on row vectors
        part = trimesh.Trimesh(
            vertices, _fan(np.asarray(counts), np.asarray(indices)), process=False
        )
        _read_colour(stage, prim, part)
        parts.append(part)
    if not parts:
        raise ValueError("no meshes in it")
    combined = parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)
    if up_is_z:  # to +Y up, as gen3d's meshes are
        combined.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    return combined


def _usd_reason(error: Exception) -> str:
    """The first of USD's quoted messages in ``error``, without its C++ source locations."""
    import re

    messages = re.findall(r": '(.+)'\s*$", str(error), flags=re.MULTILINE)
    return messages[0] if messages else type(error).__name__


def _fan(counts: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Triangles ``(F, 3)`` from polygons given as face sizes and flat corner indices."""
    if np.all(counts == 3):
        return indices.reshape(-1, 3)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    triangles = [
        (indices[start], indices[start + k], indices[start + k + 1])
        for start, count in zip(starts, counts, strict=True)
        for k in range(1, int(count) - 1)
    ]
    return np.asarray(triangles, dtype=np.int64).reshape(-1, 3)


def _read_colour(stage: Any, prim: Any, part: trimesh.Trimesh) -> None:
    from pxr import UsdGeom

    from gen3d.mesh.colour_space import linear_to_srgb

    primvars = UsdGeom.PrimvarsAPI(prim)
    st = primvars.GetPrimvar("st")
    if st and st.GetInterpolation() == UsdGeom.Tokens.vertex and st.Get() is not None:
        image = _bound_texture(stage, prim)
        uv = np.asarray(st.Get(), dtype=np.float64)
        if image is not None and len(uv) == len(part.vertices):
            material = trimesh.visual.material.PBRMaterial(baseColorTexture=image)
            part.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
            return
    colours = UsdGeom.Mesh(prim).GetDisplayColorPrimvar()
    if colours and colours.GetInterpolation() == UsdGeom.Tokens.vertex and colours.Get():
        rgb = np.asarray(colours.Get(), dtype=np.float64)
        if len(rgb) == len(part.vertices):
            encoded = np.round(linear_to_srgb(rgb) * 255).astype(np.uint8)
            part.visual.vertex_colors = np.hstack([encoded, np.full((len(rgb), 1), 255, np.uint8)])


def _bound_texture(stage: Any, prim: Any) -> Any:
    """The image of the ``UsdUVTexture`` feeding the bound material's diffuse colour."""
    import io

    from PIL import Image
    from pxr import Ar, Usd, UsdShade

    material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
    if not material:
        return None
    for shader_prim in Usd.PrimRange(material.GetPrim()):
        shader = UsdShade.Shader(shader_prim)
        if not shader or shader.GetIdAttr().Get() != "UsdUVTexture":
            continue
        asset = shader.GetInput("file").Get() if shader.GetInput("file") else None
        resolved = getattr(asset, "resolvedPath", "") if asset is not None else ""
        if not resolved:
            continue
        opened = Ar.GetResolver().OpenAsset(Ar.ResolvedPath(resolved))
        if opened is None:
            continue
        data = bytes(memoryview(opened.GetBuffer())[: opened.GetSize()])
        return Image.open(io.BytesIO(data)).convert("RGB")
    return None

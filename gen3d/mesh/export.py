"""Write meshes as GLB, OBJ (+ MTL + PNG), PLY or USDZ, following glTF's conventions.

Meshes are +Y up, in metres, facing +Z, which is what glTF asks and what Blender, three.js
and game engines expect on import. A GLB carries a metallic-roughness PBR material whose
base colour is the mesh's texture when it has one, else white multiplying the vertex
colours (written linear, as glTF's ``COLOR_0`` is; ours are sRGB-encoded like a texture's);
the generator and any metadata (prompt, seed, options) go in ``asset.extras``. USDZ (for AR
Quick Look on iOS and macOS, and USD tools) is written by ``gen3d.mesh.usd``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from gen3d import __version__
from gen3d.errors import Gen3DError
from gen3d.mesh.colour_space import bytes_srgb_to_linear

SUPPORTED_EXPORTS = (".glb", ".obj", ".ply", ".usdz")
GENERATOR = f"gen3d {__version__}"

# Vertex-coloured meshes: white base colour (glTF multiplies COLOR_0 by it), not metallic,
# fairly rough, which is how unlit-looking generated colours read best in viewers.
_VERTEX_COLOUR_MATERIAL = {
    "name": "vertex_colour",
    "pbrMetallicRoughness": {
        "baseColorFactor": [1.0, 1.0, 1.0, 1.0],
        "metallicFactor": 0.0,
        "roughnessFactor": 0.8,
    },
    "doubleSided": False,
}


class ExportError(Gen3DError):
    """A mesh that cannot be written where or how it was asked."""


def _json_safe(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if not metadata:
        return {}
    return json.loads(json.dumps(dict(metadata), default=str))


def _export_glb(mesh: trimesh.Trimesh, path: Path, metadata: dict[str, Any]) -> list[Path]:
    has_vertex_colours = mesh.visual.kind == "vertex"
    if has_vertex_colours:  # glTF's COLOR_0 is linear; ours are sRGB-encoded, like textures
        mesh = mesh.copy()
        mesh.visual.vertex_colors = bytes_srgb_to_linear(mesh.visual.vertex_colors)

    def postprocess(tree: dict[str, Any]) -> None:
        tree["asset"]["generator"] = GENERATOR
        tree["asset"]["extras"] = {"generator": GENERATOR, **metadata}
        if has_vertex_colours:
            materials = tree.setdefault("materials", [])
            materials.append(dict(_VERTEX_COLOUR_MATERIAL))
            for primitive in (p for m in tree["meshes"] for p in m["primitives"]):
                primitive["material"] = len(materials) - 1

    scene = trimesh.Scene()
    scene.add_geometry(mesh, geom_name="mesh", node_name="mesh")
    data = trimesh.exchange.gltf.export_glb(
        scene, include_normals=True, tree_postprocessor=postprocess
    )
    path.write_bytes(data)
    return [path]


def _export_obj(mesh: trimesh.Trimesh, path: Path) -> list[Path]:
    mtl_name = f"{path.stem}.mtl"
    material = getattr(mesh.visual, "material", None)
    if material is not None:
        # trimesh names the texture file after the material: name it after the asset, so that
        # several OBJ files in one folder do not overwrite each other's textures.
        mesh = mesh.copy()
        mesh.visual.material.name = path.stem
    text, files = trimesh.exchange.obj.export_obj(
        mesh,
        include_normals=True,
        include_color=True,
        include_texture=True,
        return_texture=True,
        mtl_name=mtl_name,
        header=GENERATOR,
    )
    written = [path]
    path.write_text(text, encoding="utf-8")
    for name, data in files.items():
        target = path.parent / name
        target.write_bytes(data)
        written.append(target)
    return written


def export_mesh(
    mesh: trimesh.Trimesh, path: str | Path, *, metadata: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write ``mesh`` in the format of ``path``'s suffix; returns every file written.

    ``metadata`` (JSON-able; other values become strings) is stored in a GLB's
    ``asset.extras`` and a USDZ's ``customLayerData``. An OBJ of a textured mesh also writes
    its ``.mtl`` and texture PNG.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXPORTS:
        raise ExportError(
            f"cannot write {path.name!r}: unsupported format {suffix or '(no suffix)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXPORTS)}"
        )
    if len(mesh.faces) == 0:
        raise ExportError(f"cannot write {path.name}: the mesh has no faces")
    if not np.all(np.isfinite(mesh.vertices)):
        raise ExportError(f"cannot write {path.name}: vertex positions contain NaN or infinity")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        if suffix == ".glb":
            return _export_glb(mesh, path, _json_safe(metadata))
        if suffix == ".obj":
            return _export_obj(mesh, path)
        if suffix == ".usdz":
            from gen3d.mesh.usd import export_usdz

            return export_usdz(mesh, path, _json_safe(metadata), GENERATOR)
        path.write_bytes(trimesh.exchange.ply.export_ply(mesh, encoding="binary"))
        return [path]
    except PermissionError as error:
        raise ExportError(f"cannot write {path}: permission denied") from error
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from error

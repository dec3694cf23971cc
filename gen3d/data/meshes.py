"""Mesh ingestion: load a mesh file, reject malformed ones with a reason, normalise it.

``load_mesh(path)`` reads OBJ, PLY, STL, OFF, GLB and glTF through trimesh and returns a
``MeshAsset``: the surface in the unit cube (+ margin), its colours (vertex, face or texture
colours, when the file has them), and an SDF whose sign comes from generalised winding
numbers on a cleaned copy of the surface (see ``gen3d.data.inside``), so meshes with holes,
double-sided faces or inconsistent winding still have a sensible inside.

Anything that cannot become a solid shape raises ``MeshError`` with one line naming the file
and the problem: empty files, point clouds, wireframes, NaN numbers, bad face indices, flat
or open surfaces that enclose no volume, triangle soups.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from PIL import Image

from gen3d.errors import IMAGE_DECODE_ERRORS, Gen3DError
from gen3d.mesh.scene import GLTF_SUFFIXES, flatten_scene, shared_atlas_uv
from render.mesh import material_image

from .inside import CleanSurface, clean_surface, signed_distance

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (
    *(".obj", ".ply", ".stl", ".off", ".glb", ".gltf"),
    *(".usdz", ".usd", ".usda", ".usdc"),  # read by gen3d.mesh.usd (USD's own library)
)
DEFAULT_MAX_FACES = 2_000_000
#: Below this fraction of its bounding box inside, a mesh "encloses no volume".
MIN_INSIDE_FRACTION = 1e-3


class MeshError(Gen3DError):
    """A mesh file that cannot be used as a shape; the message names the file and why."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{Path(path).name}: {problem}")


@dataclass(frozen=True)
class SurfaceColours:
    """Colours on the original surface: per vertex, per face, or from a texture."""

    kind: str  # "vertex" | "face" | "texture"
    triangles: np.ndarray  # (F, 3, 3) original triangles, normalised coordinates
    vertex_rgb: np.ndarray | None = None  # (F, 3, 3) colour at each corner
    face_rgb: np.ndarray | None = None  # (F, 3)
    uv: np.ndarray | None = None  # (F, 3, 2) texture coordinates at each corner
    texture: np.ndarray | None = None  # (H, W, 3) in [0, 1]
    factor: np.ndarray | None = None  # (3,) base colour factor multiplying the texture

    def at(self, face_index: np.ndarray, points: np.ndarray) -> np.ndarray:
        """RGB in [0, 1] at ``points`` (N, 3) lying on original faces ``face_index`` (N,)."""
        if self.kind == "face":
            return self.face_rgb[face_index]
        bary = trimesh.triangles.points_to_barycentric(self.triangles[face_index], points)
        bary = np.clip(np.nan_to_num(bary, nan=1.0 / 3.0), 0.0, 1.0)
        bary /= bary.sum(axis=1, keepdims=True)
        if self.kind == "vertex":
            return np.einsum("nk,nkc->nc", bary, self.vertex_rgb[face_index])
        uv = np.einsum("nk,nkc->nc", bary, self.uv[face_index])
        h, w = self.texture.shape[:2]
        # Nearest texel, wrapping as glTF's default sampler (REPEAT) does.
        x = np.round((uv[:, 0] % 1.0) * (w - 1)).astype(np.int64)
        y = np.round((1.0 - uv[:, 1] % 1.0) * (h - 1)).astype(np.int64)
        return self.texture[y, x] * self.factor


@dataclass(frozen=True)
class MeshAsset:
    """A mesh normalised into [-1 + margin, 1 - margin]^3, ready for SDF sampling.

    ``surface`` is the cleaned, consistently oriented triangle set used for distances and the
    inside test; ``colours`` (or None) looks colours up on the original faces, through
    ``surface.origin``. ``scale`` and ``centre`` undo the normalisation:
    ``original = vertices / scale + centre``.
    """

    source: str
    surface: CleanSurface
    colours: SurfaceColours | None
    scale: float
    centre: np.ndarray
    watertight: bool

    @property
    def vertices(self) -> np.ndarray:
        return self.surface.vertices

    @property
    def faces(self) -> np.ndarray:
        return self.surface.faces

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (negative inside) at points (N, 3)."""
        return signed_distance(self.surface, np.asarray(points, dtype=np.float64))[0]

    def query(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(sdf (N,), rgb (N, 3) or None)``: rgb is the colour of the closest surface point."""
        points = np.asarray(points, dtype=np.float64)
        sdf, face, closest = signed_distance(self.surface, points)
        if self.colours is None:
            return sdf, None
        return sdf, self.colours.at(self.surface.origin[face], closest)


# --------------------------------------------------------------------------- raw checks
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _check_obj_text(path: Path, text: str) -> None:
    """Problems trimesh's OBJ reader would silently paper over (it drops or zeroes them)."""
    n_vertices = 0
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "v":
            values = fields[1:]
            if len(values) < 3:
                raise MeshError(
                    path,
                    f"line {number}: a vertex with {len(values)} coordinates "
                    f"({' '.join(values) or 'none'}); a vertex needs x y z",
                )
            if any(not _NUMBER.match(v) for v in values):
                what = (
                    "vertex coordinates"
                    if any(not _NUMBER.match(v) for v in values[:3])
                    else "vertex colours"
                )
                raise MeshError(
                    path, f"line {number}: {what} are not finite numbers ({' '.join(values)})"
                )
            n_vertices += 1
        elif fields[0] == "f":
            refs = fields[1:]
            if len(refs) < 3:
                raise MeshError(
                    path,
                    f"line {number}: a face with {len(refs)} vertices (a face needs at least 3)",
                )
            for ref in refs:
                head = ref.split("/")[0]
                try:
                    index = int(head)
                except ValueError:
                    raise MeshError(path, f"line {number}: bad face index {ref!r}") from None
                if index == 0 or index > n_vertices or -index > n_vertices:
                    raise MeshError(
                        path,
                        f"line {number}: face index {index} is out of range "
                        f"(the file has {n_vertices} vertices so far)",
                    )


#: the largest file a mesh may pull in from beside itself (an OBJ's .mtl or texture, a
#: glTF's buffer)
MAX_SIDE_FILE_BYTES = 512 * 2**20


class SiblingFiles(trimesh.resolvers.FilePathResolver):
    """The files a mesh names (an OBJ's ``mtllib`` and textures, a glTF's buffers and
    images), read only from its own folder and below: trimesh's own resolver follows
    absolute paths and ``..``, so a mesh file could read anything on the machine, and a
    service's upload naming ``/dev/zero`` would hang its worker."""

    def __init__(self, source: str | Path, root: str | Path | None = None) -> None:
        super().__init__(str(source))
        self.root = Path(root or self.parent).resolve()

    def namespaced(self, namespace: str) -> SiblingFiles:
        return SiblingFiles(os.path.join(self.parent, namespace), self.root)

    def get(self, name: str) -> bytes:
        relative = Path(name.strip())
        target = (Path(self.parent) / relative).resolve()
        if relative.is_absolute() or not target.is_relative_to(self.root):
            raise ValueError(f"{name!r} is outside the mesh's folder")
        if not target.is_file():
            raise FileNotFoundError(f"{name!r} is not a file beside the mesh")
        if target.stat().st_size > MAX_SIDE_FILE_BYTES:
            raise ValueError(f"{name!r} is over {MAX_SIDE_FILE_BYTES // 2**20} MiB")
        return target.read_bytes()


def _load_trimesh(path: Path) -> Any:
    from gen3d.mesh.usd import USD_SUFFIXES, load_usd

    try:
        if path.suffix.lower() in USD_SUFFIXES:  # trimesh does not read USD
            return load_usd(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return trimesh.load(path, process=False, resolver=SiblingFiles(path))
    except Exception as exc:  # trimesh raises many types for corrupt files
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise MeshError(path, f"not a readable {path.suffix[1:].upper()} file ({reason})") from exc


#: the images a trimesh material may hold (glTF PBR maps, or a simple material's one)
_MATERIAL_IMAGES = {
    "baseColorTexture": "base colour texture",
    "metallicRoughnessTexture": "metallic-roughness texture",
    "normalTexture": "normal map",
    "occlusionTexture": "occlusion texture",
    "emissiveTexture": "emissive texture",
    "image": "texture image",
}


def _parts(loaded: Any) -> list[Any]:
    """The geometries of what trimesh loaded: a scene's, or the one it is."""
    return list(loaded.geometry.values()) if isinstance(loaded, trimesh.Scene) else [loaded]


def _check_material_images(path: Path, loaded: Any) -> None:
    """Decode every texture image now: trimesh keeps them lazy, and a damaged one would
    otherwise fail later, deep in a copy, as Pillow's own error."""
    for geometry in _parts(loaded):
        material = getattr(getattr(geometry, "visual", None), "material", None)
        for name, what in _MATERIAL_IMAGES.items():
            image = getattr(material, name, None)
            if not isinstance(image, Image.Image):
                continue
            try:
                image.load()
            except IMAGE_DECODE_ERRORS as error:
                raise MeshError(path, f"its {what} cannot be decoded ({error})") from None


def _as_single_mesh(path: Path, loaded: Any) -> trimesh.Trimesh:
    # flatten_scene keeps glTF vertex colours and untextured materials' base colours, which
    # trimesh's own Scene.dump() drops.
    gltf = path.suffix.lower() in GLTF_SUFFIXES
    if isinstance(loaded, trimesh.Scene):
        mesh = flatten_scene(loaded, gltf=gltf)
        if mesh is None:
            kinds = {type(g).__name__ for g in loaded.geometry.values()}
            if not kinds:
                raise MeshError(path, "is empty (no geometry)")
            raise MeshError(path, f"has no triangle faces (only {', '.join(sorted(kinds))})")
        return mesh
    if isinstance(loaded, trimesh.PointCloud):
        if len(loaded.vertices) == 0:
            raise MeshError(path, "is empty (no vertices or faces)")
        return loaded  # reported by the caller, which knows whether lines were present
    if type(loaded).__name__ in ("Path2D", "Path3D"):  # trimesh.path needs optional extras
        raise MeshError(path, "contains only lines (a wireframe), no faces")
    if not isinstance(loaded, trimesh.Trimesh):
        raise MeshError(path, f"holds a {type(loaded).__name__}, not a triangle mesh")
    return flatten_scene(loaded, gltf=gltf) or loaded  # None for a mesh with no faces


# trimesh invents a flat grey texture (and packs several into an atlas with black padding)
# when a file has UVs but no image; those greys are not the asset's colour.
_PLACEHOLDER_TEXELS = {(100, 100, 100), (102, 102, 102), (0, 0, 0)}


def _is_placeholder(texture: np.ndarray) -> bool:
    texels = np.unique(texture.reshape(-1, 3), axis=0)
    return len(texels) <= len(_PLACEHOLDER_TEXELS) and all(
        tuple(int(c) for c in t) in _PLACEHOLDER_TEXELS for t in texels
    )


def _colours_of(mesh: trimesh.Trimesh, triangles: np.ndarray) -> SurfaceColours | None:
    visual = mesh.visual
    kind = getattr(visual, "kind", None)
    if kind == "vertex":
        rgb = np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0
        return SurfaceColours("vertex", triangles, vertex_rgb=rgb[mesh.faces])
    if kind == "face":
        rgb = np.asarray(visual.face_colors, dtype=np.float64)[:, :3] / 255.0
        return SurfaceColours("face", triangles, face_rgb=rgb)
    if kind == "texture":
        material = visual.material
        image = material_image(material)
        if image is None or visual.uv is None or len(visual.uv) != len(mesh.vertices):
            return None
        factor = getattr(material, "baseColorFactor", None)
        factor = np.ones(3) if factor is None else np.asarray(factor, dtype=np.float64)[:3]
        if factor.max() > 1.0:  # trimesh keeps factors as uint8
            factor = factor / 255.0
        texels = np.asarray(image.convert("RGB"))
        if _is_placeholder(texels):
            return None
        texture = texels.astype(np.float64) / 255.0
        uv = np.asarray(visual.uv, dtype=np.float64)[mesh.faces]
        return SurfaceColours("texture", triangles, uv=uv, texture=texture, factor=factor)
    return None


def load_mesh(
    path: str | Path, *, margin: float = 0.1, max_faces: int = DEFAULT_MAX_FACES
) -> MeshAsset:
    """Load, check and normalise one mesh file; raises ``MeshError`` with the reason."""
    return normalise_mesh(read_mesh(path), Path(path), margin=margin, max_faces=max_faces)


def read_mesh(path: str | Path) -> trimesh.Trimesh:
    """One mesh file as one triangle mesh in its own units (a scene's parts placed and
    joined, colours kept); raises ``MeshError`` for anything that is not one."""
    return _read(Path(path))[0]


def read_mesh_and_uv(path: str | Path) -> tuple[trimesh.Trimesh, np.ndarray | None]:
    """``read_mesh``, and the file's own texture coordinates per vertex when one texture can
    serve them: one part with UVs, or parts sharing one atlas (``shared_atlas_uv``)."""
    loaded, raw = _read(Path(path))
    uv = shared_atlas_uv(raw)
    return loaded, uv if uv is not None and len(uv) == len(loaded.vertices) else None


def _read(path: Path) -> tuple[trimesh.Trimesh, Any]:
    """The file as one checked triangle mesh, and what trimesh loaded (a scene, say)."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise MeshError(
            path,
            f"unsupported format {path.suffix or '(no suffix)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}",
        )
    if not path.is_file():
        raise MeshError(path, "no such file")
    if path.stat().st_size == 0:
        raise MeshError(path, "is empty (0 bytes)")
    text = None
    if path.suffix.lower() == ".obj":
        text = path.read_text(encoding="utf-8", errors="replace")
        _check_obj_text(path, text)

    raw = _load_trimesh(path)
    _check_material_images(path, raw)
    for part in _parts(raw):
        if isinstance(part, trimesh.Trimesh) and len(part.faces):
            _check_face_indices(path, np.asarray(part.faces), len(part.vertices))
    loaded = _as_single_mesh(path, raw)
    if isinstance(loaded, trimesh.PointCloud):
        if text is not None and re.search(r"^\s*l\s", text, flags=re.MULTILINE):
            raise MeshError(path, "contains only lines (a wireframe), no faces")
        raise MeshError(path, f"is a point cloud ({len(loaded.vertices)} points), no faces")
    if len(loaded.faces) == 0:
        raise MeshError(path, "has no faces")
    return loaded, raw


def _check_face_indices(path: Path, faces: np.ndarray, vertex_count: int) -> None:
    """Every face names vertices that exist. A file's damaged index buffer points past them:
    trimesh loads it unchecked (process=False) and would fail later, deep in a copy or a
    colour lookup, so ``_read`` checks each part at once; ``normalise_mesh`` checks meshes
    from code."""
    outside = (faces < 0) | (faces >= vertex_count)
    bad = np.flatnonzero(outside.any(axis=1))
    if len(bad):
        index = faces[bad[0]][outside[bad[0]]][0]
        raise MeshError(
            path,
            f"face {bad[0]} names vertex {index}, but there are only {vertex_count:,} "
            f"vertices ({len(bad):,} of {len(faces):,} faces out of range: damaged indices?)",
        )


def normalise_mesh(
    mesh: trimesh.Trimesh,
    source: str | Path = "mesh",
    *,
    margin: float = 0.1,
    max_faces: int = DEFAULT_MAX_FACES,
) -> MeshAsset:
    """Check a triangle mesh, clean it and normalise it into the unit cube (``source`` names
    it in errors); raises ``MeshError`` with the reason."""
    path = Path(source)
    if len(mesh.faces) == 0:
        raise MeshError(path, "has no faces")
    if len(mesh.faces) > max_faces:
        raise MeshError(path, f"has {len(mesh.faces):,} faces, over the limit of {max_faces:,}")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        each = vertices.shape[1] if vertices.ndim == 2 else "no"
        raise MeshError(path, f"vertices have {each} coordinates each, not 3 (x y z)")
    if not np.all(np.isfinite(vertices)):
        raise MeshError(path, "vertex coordinates contain NaN or infinity")
    faces = np.asarray(mesh.faces, dtype=np.int64)
    _check_face_indices(path, faces, len(vertices))
    colours_raw = (
        getattr(mesh.visual, "vertex_colors", None) if mesh.visual.kind == "vertex" else None
    )
    if colours_raw is not None and not np.all(np.isfinite(np.asarray(colours_raw, float))):
        raise MeshError(path, "vertex colours contain NaN")

    lo, hi = vertices[faces].reshape(-1, 3).min(axis=0), vertices[faces].reshape(-1, 3).max(axis=0)
    extent = hi - lo
    if extent.max() <= 0:
        raise MeshError(path, "all vertices are at one point")
    flat = extent < 1e-6 * extent.max()
    if flat.any():
        axis = "XYZ"[int(np.argmax(flat))]
        raise MeshError(path, f"is flat (no extent along {axis}), so it encloses no volume")

    centre = (lo + hi) / 2.0
    scale = (1.0 - margin) / float(extent.max() / 2.0)
    normalised = (vertices - centre) * scale
    triangles = normalised[faces]
    surface = clean_surface(normalised, faces)
    if len(surface.faces) == 0:
        raise MeshError(path, "every face is degenerate (zero area)")
    if surface.soup_fraction > 0.5:
        raise MeshError(
            path,
            f"is a triangle soup: {surface.soup_fraction:.0%} of its faces "
            "share no edge with another",
        )
    inside = _inside_fraction(surface, (lo - centre) * scale, (hi - centre) * scale)
    if inside < MIN_INSIDE_FRACTION:
        raise MeshError(
            path,
            "is an open surface that encloses no volume "
            f"({inside:.2%} of its bounding box is inside)",
        )
    colours = _colours_of(mesh, triangles)
    log.debug(
        "loaded %s: %d faces (%d after cleaning), colours=%s",
        path,
        len(faces),
        len(surface.faces),
        colours.kind if colours else None,
    )
    return MeshAsset(
        source=str(path),
        surface=surface,
        colours=colours,
        scale=scale,
        centre=centre,
        watertight=bool(mesh.is_watertight),
    )


def _inside_fraction(surface: CleanSurface, lo: np.ndarray, hi: np.ndarray) -> float:
    points = np.random.default_rng(0).uniform(lo, hi, size=(4096, 3))
    return float((signed_distance(surface, points)[0] < 0).mean())

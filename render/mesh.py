"""The mesh a renderer draws: tensors for positions, faces and an optional colour source.

Colour comes from a UV texture, else per-vertex colours, else a uniform grey. UVs use the
OpenGL / trimesh convention (v = 0 at the bottom of the image); textures are ``(H, W, 3)``
images in [0, 1] with row 0 at the top, as image files store them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import trimesh
from PIL import Image
from torch import Tensor

UNIFORM_GREY = 0.7


def _image_to_tensor(image: Image.Image) -> Tensor:
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy())


@dataclass
class RenderMesh:
    vertices: Tensor  # (V, 3) float
    faces: Tensor  # (F, 3) long
    vertex_colors: Tensor | None = None  # (V, 3) in [0, 1]
    uv: Tensor | None = None  # (V, 2), v up
    texture: Tensor | None = None  # (H, W, 3) in [0, 1], row 0 at the top

    def __post_init__(self) -> None:
        if self.vertices.ndim != 2 or self.vertices.shape[-1] != 3:
            raise ValueError(f"vertices must be (V, 3), got {tuple(self.vertices.shape)}")
        if self.faces.ndim != 2 or self.faces.shape[-1] != 3:
            raise ValueError(f"faces must be (F, 3), got {tuple(self.faces.shape)}")
        if (self.uv is None) != (self.texture is None):
            raise ValueError("a textured mesh needs both uv and texture")
        self.faces = self.faces.long()

    @property
    def device(self) -> torch.device:
        return self.vertices.device

    def to(self, device: torch.device | str) -> RenderMesh:
        def move(value: Tensor | None) -> Tensor | None:
            return None if value is None else value.to(device)

        return RenderMesh(
            self.vertices.to(device),
            self.faces.to(device),
            move(self.vertex_colors),
            move(self.uv),
            move(self.texture),
        )

    def with_texture(self, texture: Tensor) -> RenderMesh:
        return replace(self, texture=texture)

    def normalised(self, radius: float = 1.15) -> RenderMesh:
        """A copy centred on its bounding box and scaled into a sphere of ``radius``: what
        the default cameras frame whole from every side."""
        centre = (self.vertices.amin(0) + self.vertices.amax(0)) / 2.0
        extent = (self.vertices - centre).norm(dim=-1).max().clamp_min(1e-12)
        return replace(self, vertices=(self.vertices - centre) * (radius / extent))

    def face_normals(self) -> Tensor:
        """Unit face normals ``(F, 3)``, from the winding (counter-clockwise is outside)."""
        corners = self.vertices[self.faces]
        normal = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        return torch.nn.functional.normalize(normal, dim=-1)

    def vertex_normals(self) -> Tensor:
        """Area-weighted unit vertex normals ``(V, 3)``."""
        corners = self.vertices[self.faces]
        weighted = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals = torch.zeros_like(self.vertices)
        normals = normals.index_add(0, self.faces.reshape(-1), weighted.repeat_interleave(3, dim=0))
        return torch.nn.functional.normalize(normals, dim=-1)

    @classmethod
    def from_trimesh(cls, mesh: trimesh.Trimesh) -> RenderMesh:
        """Positions, faces and whichever colour the mesh carries (texture, vertex or face
        colours, or a material's base colour)."""
        vertices = torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32)
        faces = torch.as_tensor(np.asarray(mesh.faces), dtype=torch.long)
        visual = mesh.visual
        if visual.kind == "texture" and getattr(visual, "uv", None) is not None:
            image = material_image(visual.material)
            if image is not None:
                uv = torch.as_tensor(np.asarray(visual.uv), dtype=torch.float32)
                return cls(vertices, faces, uv=uv, texture=_image_to_tensor(image))
            colour = _material_colour(visual.material)
            if colour is not None:
                return cls(vertices, faces, vertex_colors=colour.expand(len(vertices), 3).clone())
        if visual.kind in ("vertex", "face"):
            colours = np.asarray(visual.vertex_colors)[:, :3] / 255.0  # face colours averaged
            return cls(vertices, faces, vertex_colors=torch.as_tensor(colours, dtype=torch.float32))
        return cls(vertices, faces)


def material_image(material: object) -> Image.Image | None:
    """A trimesh material's colour image: glTF PBR's base colour texture or a simple
    material's image (None when it has neither)."""
    image = getattr(material, "baseColorTexture", None)
    if image is None:
        image = getattr(material, "image", None)
    return image if isinstance(image, Image.Image) else None


#: the diffuse trimesh gives a material that states none
_TRIMESH_GREY = (102, 102, 102)


def material_base_colour(material: object) -> np.ndarray | None:
    """A material's RGBA base colour in [0, 1] (glTF's ``baseColorFactor`` or an OBJ
    material's diffuse ``Kd``), or None when it states none. trimesh fills a missing diffuse
    with grey 102, which is no one's colour, so that grey counts as none."""
    from trimesh.visual.material import PBRMaterial, SimpleMaterial

    if isinstance(material, PBRMaterial):
        colour = material.baseColorFactor
    elif isinstance(material, SimpleMaterial):
        colour = material.diffuse
        if colour is not None and tuple(int(c) for c in np.ravel(colour)[:3]) == _TRIMESH_GREY:
            return None
    else:
        return None
    if colour is None:
        return None
    values = np.asarray(colour).ravel()[:4]
    rgba = np.ones(4)
    rgba[: len(values)] = values / 255.0 if values.dtype.kind in "ui" else values
    return rgba


def _material_colour(material: object) -> Tensor | None:
    rgba = material_base_colour(material)
    return None if rgba is None else torch.as_tensor(rgba[:3], dtype=torch.float32)

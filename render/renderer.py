"""Render a :class:`RenderMesh` from :class:`Cameras`: colour, alpha and depth images.

Shading modes for previews: ``albedo`` (unlit texture or vertex colour), ``lambert`` (albedo
lit by a head light, i.e. a light at the camera, two-sided so that inconsistent windings still
read), ``normals`` (world-space normals mapped to [0, 1]). Every output is top-down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from render.backend import RasterBackend, RenderError, get_backend
from render.camera import Cameras
from render.mesh import UNIFORM_GREY, RenderMesh

SHADING_MODES = ("albedo", "lambert", "normals")


@dataclass
class RenderOutput:
    color: Tensor  # (B, H, W, 3), background composited in
    alpha: Tensor  # (B, H, W, 1), antialiased coverage
    depth: Tensor  # (B, H, W) distance along the view axis; 0 on the background
    face_ids: Tensor  # (B, H, W) long, -1 on the background

    @property
    def mask(self) -> Tensor:
        return self.face_ids >= 0

    def images(self) -> list:
        """The colour images as PIL RGBA images (alpha from coverage)."""
        from PIL import Image

        rgba = torch.cat([self.color, self.alpha], dim=-1).clamp(0, 1)
        arrays = (rgba.detach().cpu().numpy() * 255.0 + 0.5).astype("uint8")
        return [Image.fromarray(array, mode="RGBA") for array in arrays]


def _resolve_backend(backend: str | RasterBackend, device: torch.device) -> RasterBackend:
    return get_backend(backend, device) if isinstance(backend, str) else backend


def sample_albedo(mesh: RenderMesh, rast: Tensor, backend: RasterBackend) -> Tensor:
    """Per-pixel base colour ``(B, H, W, 3)`` from the mesh's colour source."""
    if mesh.texture is not None and mesh.uv is not None:
        # Texture rows run top-down while v runs bottom-up: sample at (u, 1 - v).
        image_uv = torch.stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]], dim=-1)
        uv = backend.interpolate(image_uv, rast, mesh.faces)
        return backend.texture(mesh.texture[None], uv, "linear", "wrap")
    if mesh.vertex_colors is not None:
        return backend.interpolate(mesh.vertex_colors, rast, mesh.faces)
    return torch.full((*rast.shape[:3], 3), UNIFORM_GREY, dtype=rast.dtype, device=rast.device)


def render_mesh(
    mesh: RenderMesh,
    cameras: Cameras,
    *,
    shading: str = "lambert",
    background: Sequence[float] = (1.0, 1.0, 1.0),
    antialias: bool = True,
    smooth_normals: bool = True,
    ambient: float = 0.35,
    backend: str | RasterBackend = "auto",
) -> RenderOutput:
    """Draw ``mesh`` once per camera. Differentiable with respect to the texture, the vertex
    colours and (through interpolation and antialiasing) the vertex positions."""
    if shading not in SHADING_MODES:
        raise RenderError(f"unknown shading {shading!r}; choose one of {SHADING_MODES}")
    if len(mesh.faces) == 0:
        raise RenderError("cannot render a mesh with no faces")
    raster = _resolve_backend(backend, mesh.device)
    cameras = cameras.to(mesh.device)
    clip = cameras.to_clip(mesh.vertices)
    rast = raster.rasterize(clip, mesh.faces, cameras.resolution)
    face_ids = rast[..., 3].long() - 1
    covered = (face_ids >= 0)[..., None]

    if shading == "albedo":
        color = sample_albedo(mesh, rast, raster)
    else:
        if smooth_normals:
            normals = raster.interpolate(mesh.vertex_normals(), rast, mesh.faces)
        else:
            normals = mesh.face_normals()[face_ids.clamp_min(0)]
        normals = torch.nn.functional.normalize(normals, dim=-1)
        if shading == "normals":
            color = normals * 0.5 + 0.5
        else:
            to_camera = -cameras.forward[:, None, None, :].to(normals)  # head light
            facing = (normals * to_camera).sum(-1, keepdim=True).abs()
            color = sample_albedo(mesh, rast, raster) * (ambient + (1.0 - ambient) * facing)

    background_color = torch.as_tensor(background, dtype=color.dtype, device=color.device)
    alpha = covered.to(color.dtype)
    color = torch.where(covered, color, background_color)
    if antialias:
        blended = raster.antialias(torch.cat([color, alpha], dim=-1), rast, clip, mesh.faces)
        color, alpha = blended[..., :3], blended[..., 3:]

    points = raster.interpolate(mesh.vertices, rast, mesh.faces)
    eyes = cameras.eyes[:, None, None, :].to(points)
    depth = ((points - eyes) * cameras.forward[:, None, None, :].to(points)).sum(-1)
    depth = torch.where(covered[..., 0], depth, torch.zeros_like(depth))
    # The rasterizer's row 0 is the bottom of the image (nvdiffrast's convention); flip once.
    return RenderOutput(
        color=color.flip(1), alpha=alpha.flip(1), depth=depth.flip(1), face_ids=face_ids.flip(1)
    )

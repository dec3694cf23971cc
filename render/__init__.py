"""Cameras, rasterizer backends (pure PyTorch everywhere; nvdiffrast on CUDA when installed),
UV unwrapping, texture baking and refinement, the view a photo of a mesh was taken from and
its lighting, highlights and cast shadows, carrying its colours round a symmetric shape,
previews.

Depends on torch (and optionally nvdiffrast, xatlas): never imports gen3d, server, vae or dit.
"""

from render.backend import RasterBackend, RenderError, get_backend, nvdiffrast_available
from render.bake import bake_texture, texel_positions
from render.camera import Cameras, look_at, orthographic, perspective
from render.highlights import Highlight, fit_highlights, lamp_direction
from render.lighting import LightFit, fit_coloured_shading, fit_light, fit_shading
from render.mesh import RenderMesh
from render.pose import PoseSettings, ViewEstimate, estimate_view
from render.preview import contact_sheet, render_views, save_turntable, save_views
from render.refine import RefinementCancelled, RefineSettings, psnr, refine_texture
from render.renderer import RenderOutput, render_mesh
from render.shadows import lamp_visibility, shading_lamp, shadow_term
from render.symmetry import carry_round, mirror_planes, symmetric_turns
from render.uv import UnwrapError, unwrap_uv

__all__ = [
    "Cameras",
    "Highlight",
    "LightFit",
    "PoseSettings",
    "RasterBackend",
    "RefineSettings",
    "RefinementCancelled",
    "RenderError",
    "RenderMesh",
    "RenderOutput",
    "UnwrapError",
    "ViewEstimate",
    "bake_texture",
    "carry_round",
    "contact_sheet",
    "estimate_view",
    "fit_coloured_shading",
    "fit_highlights",
    "fit_light",
    "fit_shading",
    "get_backend",
    "lamp_direction",
    "lamp_visibility",
    "look_at",
    "mirror_planes",
    "nvdiffrast_available",
    "orthographic",
    "perspective",
    "psnr",
    "refine_texture",
    "render_mesh",
    "render_views",
    "save_turntable",
    "save_views",
    "shading_lamp",
    "shadow_term",
    "symmetric_turns",
    "texel_positions",
    "unwrap_uv",
]

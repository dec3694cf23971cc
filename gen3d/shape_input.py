"""A user's mesh as the starting point of generation.

Sampling can start from a mesh instead of pure noise (SDEdit): the shape VAE encodes the mesh
to a latent, the latent is noised part of the way (``strength``) and the DiT denoises it under
the prompt or image. Low strengths stay close to the mesh; high ones keep only its rough
layout. With ``keep_geometry`` the pipeline keeps the mesh exactly and only paints it: the
generated field's colour is baked onto the user's own surface.

The mesh is read, checked and cleaned like dataset meshes (``gen3d.data.meshes``) and placed
in the model's frame the same way: turned upright when its up axis is Z, centred, its
longest side spanning the unit cube less the datasets' margin, so the VAE sees it as it saw
its training shapes. A painted mesh goes back to the user's own frame.

Example::

    shape = load_shape("chair.glb")
    latents = encode_shape(vae, shape)        # (1, *latent_shape), the VAE's own scale
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import trimesh

from gen3d.data.meshes import DEFAULT_MAX_FACES, MeshAsset, normalise_mesh, read_mesh_and_uv
from gen3d.data.sampling import surface_samples
from gen3d.pipeline import PipelineError

log = logging.getLogger(__name__)

#: where a shape sits in the unit cube: the margin datasets are built with (BuildSpec.margin)
SHAPE_MARGIN = 0.1
#: surface points the VAE encoder sees (as in training and latent caching)
ENCODER_POINTS = 2048


#: rotations that turn a mesh's up axis into the model's (+Y, as glTF and the training
#: shapes): Z-up is what CAD tools, Blender's OBJ/STL defaults and many scans use
UP_AXES = {
    "y": np.eye(3),
    "z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),  # (x, z, -y)
}


@dataclass(frozen=True)
class ShapeInput:
    """A mesh ready to start generation from: ``mesh`` in its own units and axes, ``asset``
    in the model's frame (``model = (rotation @ own - asset.centre) * asset.scale``)."""

    name: str
    mesh: trimesh.Trimesh
    asset: MeshAsset
    #: the mesh's own texture coordinates per vertex, when they can be baked into (inside
    #: the unit square; one part, or parts sharing one atlas): painting keeps the UV layout
    #: an artist made
    uv: np.ndarray | None = None
    #: turns the mesh's up axis into +Y (``UP_AXES``)
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def to_model_frame(self, vertices: np.ndarray) -> np.ndarray:
        upright = np.asarray(vertices, dtype=np.float64) @ self.rotation.T
        return (upright - self.asset.centre) * self.asset.scale

    def to_own_frame(self, vertices: np.ndarray) -> np.ndarray:
        upright = np.asarray(vertices, dtype=np.float64) / self.asset.scale + self.asset.centre
        return upright @ self.rotation


def load_shape(
    source: str | Path | trimesh.Trimesh | ShapeInput,
    up: str = "y",
    *,
    max_faces: int = DEFAULT_MAX_FACES,
) -> ShapeInput:
    """A mesh file (any format ``gen3d dataset build`` reads) or a ``trimesh.Trimesh`` as a
    ``ShapeInput``; ``up`` is the mesh's up axis (``"y"`` or ``"z"``). Raises
    ``gen3d.data.MeshError`` naming the mesh's problem (over ``max_faces`` faces, say), or
    ``PipelineError`` for an unknown ``up``."""
    if up not in UP_AXES:
        raise PipelineError(f"up must be one of {', '.join(UP_AXES)}, not {up!r}")
    if isinstance(source, ShapeInput):
        return source
    if isinstance(source, trimesh.Trimesh):
        mesh, name = source, str(source.metadata.get("name") or "mesh")
        uv = getattr(mesh.visual, "uv", None)
        uv = None if uv is None or len(uv) != len(mesh.vertices) else np.asarray(uv, float)
    else:
        (mesh, uv), name = read_mesh_and_uv(source), Path(source).name
    rotation = UP_AXES[up]
    upright = mesh.copy()
    upright.vertices = np.asarray(mesh.vertices, dtype=np.float64) @ rotation.T
    asset = normalise_mesh(upright, name, margin=SHAPE_MARGIN, max_faces=max_faces)
    return ShapeInput(name, mesh, asset, uv if _bakeable(uv, name) else None, rotation)


def _bakeable(uv: np.ndarray | None, name: str) -> bool:
    """Whether UVs can take a baked texture: finite and inside the unit square (tiled or
    UDIM layouts cannot; those meshes get new UVs)."""
    if uv is None:
        return False
    inside = np.isfinite(uv).all(axis=1) & (uv >= -1e-3).all(axis=1) & (uv <= 1 + 1e-3).all(axis=1)
    if inside.mean() < 0.99:
        log.warning(
            "%s: %.0f%% of its UVs lie outside the unit square; painting it with new UVs",
            name,
            100 * (1 - inside.mean()),
        )
        return False
    return True


@torch.no_grad()
def encode_shape(vae: Any, shape: ShapeInput, *, points: int = ENCODER_POINTS, seed: int = 0):
    """The VAE's latent of ``shape`` (its posterior's mode): ``(1, *latent_shape)`` float32.
    A mesh without colours is encoded as uncoloured, as colourless training shapes were."""
    surface, normals, colours = surface_samples(shape.asset, points, seed=seed)
    device = next(vae.parameters()).device

    def batch(array: np.ndarray | None) -> torch.Tensor | None:
        if array is None:
            return None
        return torch.as_tensor(np.asarray(array, dtype=np.float32), device=device)[None]

    posterior = vae.encode(batch(surface), batch(normals), batch(colours))
    return posterior.mode().float()

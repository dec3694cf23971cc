"""What the pipeline returns: a mesh with its texture, the options that made it, and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trimesh
from PIL import Image

from gen3d.mesh.export import export_mesh


@dataclass
class Asset:
    """One generated asset.

    ``metadata`` holds the prompt (or image name), seed and options; ``timings`` the seconds
    each stage took. Both go into a GLB's ``asset.extras``.
    """

    mesh: trimesh.Trimesh
    metadata: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def texture(self) -> Image.Image | None:
        """The base-colour texture, or None for a vertex-coloured mesh."""
        material = getattr(self.mesh.visual, "material", None)
        image = getattr(material, "baseColorTexture", None)
        return image if isinstance(image, Image.Image) else None

    def save(self, path: str | Path) -> list[Path]:
        """Write the asset as .glb, .obj (+ .mtl, .png), .ply or .usdz, by the suffix of ``path``;
        returns every file written."""
        timings = {stage: round(seconds, 4) for stage, seconds in self.timings.items()}
        return export_mesh(self.mesh, path, metadata={**self.metadata, "timings": timings})

    def preview(self, path: str | Path, views: int = 4, resolution: int = 256) -> Path:
        """A PNG of ``views`` views side by side, upright: a painted Z-up mesh (metadata
        ``up``) is shown turned as the model saw it, though it is saved in its own axes."""
        import torch

        from gen3d.shape_input import UP_AXES
        from render import RenderMesh, save_views

        mesh = RenderMesh.from_trimesh(self.mesh)
        rotation = UP_AXES.get(self.metadata.get("up", "y"), UP_AXES["y"])
        mesh.vertices = mesh.vertices @ torch.as_tensor(rotation.T, dtype=mesh.vertices.dtype)
        return save_views(mesh.normalised(), path, views=views, resolution=resolution)
